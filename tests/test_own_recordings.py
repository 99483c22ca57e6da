"""``shardgen convert folder`` / ``manifest`` and windows: real recordings end to end, split and
label rules, segments and windows equal to slicing the decoded recording, bounded memory."""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from shardgen import convert
from shardgen.cli import main
from shardgen.synthetic import event_files as writers
from streams import EventStream

from conftest import assert_matches_reference

REAL = [
    "prophesee_evt2/gen3_sample.raw",
    "prophesee_evt3/gen41_evk3_sample.raw",
    "prophesee_evt3/gen41_pedestrians_cut.raw",
    "prophesee_dat/ncars_obj_004397_td.dat",
    "prophesee_dat/ncars_sample.dat",
]


def stream_samples(out: Path, split: str = "all") -> dict[str, dict]:
    return {sample["__key__"]: sample for sample in EventStream(out, split=split)}


def test_real_recordings_through_convert_folder_and_event_stream(samples_dir, reference, tmp_path):
    root = tmp_path / "root"
    for relpath in REAL:  # ROOT/<class>/<recording>: links, the recordings are not copied
        link = root / relpath
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(samples_dir / relpath)
    out = tmp_path / "shards"
    assert main(["convert", "folder", "--raw", str(root), "--out", str(out), "--sensor-size", "1280", "720", "--quiet"]) == 0
    samples = stream_samples(out)
    assert len(samples) == len(REAL)
    classes = sorted({relpath.split("/")[0] for relpath in REAL})
    for relpath in REAL:
        sample = samples[relpath.replace("/", "_").rsplit(".", 1)[0]]
        assert sample["label"] == classes.index(relpath.split("/")[0])
        assert tuple(sample["sensor_size"]) == (1280, 720, 2)
        assert_matches_reference(sample["events"], reference[relpath])


def test_sensor_size_comes_from_the_header_or_must_be_given(samples_dir, tmp_path):
    root = tmp_path / "root" / "cls"
    root.mkdir(parents=True)
    (root / "a.raw").symlink_to(samples_dir / "prophesee_evt3/gen41_pedestrians_cut.raw")
    summary = convert("folder", tmp_path / "root", tmp_path / "out", progress=False)
    assert EventStream(summary.out, split="all").sensor_size == (1280, 720, 2)
    (root / "b.dat").symlink_to(samples_dir / "prophesee_dat/ncars_sample.dat")  # DAT without geometry
    assert main(["convert", "folder", "--raw", str(tmp_path / "root"), "--out", str(tmp_path / "out2"), "--quiet"]) == 1


def _recording(rng, n: int, *, t0: int = 0, max_gap: int = 500) -> dict[str, np.ndarray]:
    return {
        "t": (t0 + np.cumsum(rng.integers(0, max_gap, n))).astype(np.int64),
        "x": rng.integers(0, 64, n).astype(np.uint16),
        "y": rng.integers(0, 48, n).astype(np.uint16),
        "p": rng.integers(0, 2, n).astype(np.uint8),
    }


def _slice(events, mask):
    return {k: v[mask] for k, v in events.items()}


def assert_events_equal(actual, expected):
    for name in "txyp":
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


def test_folder_labels_and_split_rule(tmp_path):
    rng = np.random.default_rng(1)
    counts = {"walk": 5, "jump": 3, "sit": 1}
    recordings = {}
    for name, count in counts.items():
        (tmp_path / "root" / name).mkdir(parents=True)
        for index in range(count):
            events = _recording(rng, 50)
            recordings[f"{name}_rec{index}"] = events
            (tmp_path / "root" / name / f"rec{index}.csv").write_bytes(writers.write_csv(events, header=True))
    convert("folder", tmp_path / "root", tmp_path / "out", progress=False, sensor_size=(64, 48), split_ratio=0.5)
    stream = EventStream(tmp_path / "out", split="all")
    assert stream.classes == ["jump", "sit", "walk"]
    for split in ("train", "test"):
        for key, sample in stream_samples(tmp_path / "out", split).items():
            name, rec = key.split("_")
            rank = int(rec[3:])
            assert sample["label"] == stream.classes.index(name)
            assert (rank < math.ceil(0.5 * counts[name])) == (split == "train")
            assert_events_equal(sample["events"], recordings[key])
    assert stream.index.splits["train"]["n_samples"] == 3 + 1 + 2


@pytest.mark.parametrize("overlap", [0, 300])
def test_time_windows_equal_slices_of_the_recording(tmp_path, overlap):
    rng = np.random.default_rng(2)
    events = _recording(rng, 3000, t0=1_000_000, max_gap=40)
    events["t"][1500:] += 50_000  # a gap: windows without events are skipped
    (tmp_path / "root" / "a").mkdir(parents=True)
    (tmp_path / "root" / "a" / "long.dat").write_bytes(writers.write_dat(events, width=64, height=48))
    convert("folder", tmp_path / "root", tmp_path / "out", progress=False, window_us=1000, overlap=overlap, chunk_events=257)
    samples = stream_samples(tmp_path / "out")
    stride = 1000 - overlap
    starts = events["t"][0] + stride * np.arange((events["t"][-1] - events["t"][0]) // stride + 1)
    expected = [_slice(events, (events["t"] >= s) & (events["t"] < s + 1000)) for s in starts]
    expected = [window for window in expected if len(window["t"])]
    assert sorted(samples) == [f"a_long_{i:06d}" for i in range(len(expected))]
    for i, window in enumerate(expected):
        assert_events_equal(samples[f"a_long_{i:06d}"]["events"], window)


@pytest.mark.parametrize("window, overlap", [(100, 0), (100, 30), (7, 6)])
def test_event_windows(tmp_path, window, overlap):
    rng = np.random.default_rng(3)
    events = _recording(rng, 1234)
    (tmp_path / "root" / "a").mkdir(parents=True)
    (tmp_path / "root" / "a" / "r.npy").write_bytes(writers.write_npy(events, structured=True))
    convert(
        "folder",
        tmp_path / "root",
        tmp_path / "out",
        progress=False,
        sensor_size=(64, 48),
        window_events=window,
        overlap=overlap,
        chunk_events=99,
    )
    samples = stream_samples(tmp_path / "out")
    stride = window - overlap
    starts = [0] + [s for s in range(stride, 1234, stride) if s + overlap < 1234]
    assert len(samples) == len(starts)
    for i, start in enumerate(starts):
        expected = {k: v[start : start + window] for k, v in events.items()}
        assert_events_equal(samples[f"a_r_{i:06d}"]["events"], expected)


def test_manifest_segments_labels_and_splits(tmp_path):
    rng = np.random.default_rng(4)
    long = _recording(rng, 5000, t0=10_000, max_gap=100)
    other = _recording(rng, 300)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "long.raw").write_bytes(writers.write_evt2(long, width=64, height=48))
    (tmp_path / "data" / "other.csv").write_bytes(writers.write_csv(other, header=False))
    rows = [
        ("data/long.raw", "wave", "train", 20_000, 60_000),
        ("data/long.raw", "clap", "test", 50_000, 90_000),
        ("data/long.raw", "wave", "train", 10_000, 15_000),
        ("data/other.csv", "clap", "", None, None),
        ("data/long.raw", "clap", "train", 900_000, 950_000),
    ]
    text = "path,label,split,start_us,end_us\n" + "".join(
        f"{p},{label},{split},{'' if s is None else s},{'' if e is None else e}\n" for p, label, split, s, e in rows
    )
    (tmp_path / "manifest.csv").write_text(text)
    out = tmp_path / "out"
    assert (
        main(
            [
                "convert",
                "manifest",
                "--manifest",
                str(tmp_path / "manifest.csv"),
                "--out",
                str(out),
                "--sensor-size",
                "64",
                "48",
                "--quiet",
            ]
        )
        == 0
    )
    stream = EventStream(out, split="all")
    assert stream.classes == ["clap", "wave"]
    samples = stream_samples(out)
    assert len(samples) == len(rows)
    for line, (path, label, _split, start, end) in enumerate(rows, start=2):
        key = f"data_{Path(path).stem}_row{line:06d}"
        sample = samples[key]
        assert sample["label"] == stream.classes.index(label)
        source = long if "long" in path else other
        expected = source if start is None else _slice(source, (source["t"] >= start) & (source["t"] < end))
        assert_events_equal(sample["events"], expected)
    assert stream.index.splits["train"]["n_samples"] == 3 and stream.index.splits["all"]["n_samples"] == 1


def test_manifest_errors_name_the_line(tmp_path):
    (tmp_path / "m.csv").write_text("a.csv,1\nmissing.csv,2,train,5\n")
    (tmp_path / "a.csv").write_text("1 2 3 1\n")
    assert (
        main(
            [
                "convert",
                "manifest",
                "--manifest",
                str(tmp_path / "m.csv"),
                "--out",
                str(tmp_path / "o"),
                "--sensor-size",
                "4",
                "4",
                "--quiet",
            ]
        )
        == 1
    )


def test_windowing_memory_is_bounded_by_the_window_not_the_file(tmp_path):
    rng = np.random.default_rng(5)
    n = 4_000_000
    events = _recording(rng, n, max_gap=3)
    (tmp_path / "root" / "a").mkdir(parents=True)
    (tmp_path / "root" / "a" / "big.dat").write_bytes(writers.write_dat(events, width=64, height=48))
    del events
    decoded_bytes = n * 13  # t, x, y, p
    tracemalloc.start()
    try:
        summary = convert(
            "folder", tmp_path / "root", tmp_path / "out", progress=False, window_events=20_000, chunk_events=1 << 16
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary.n_events == n and summary.n_samples == n // 20_000
    # The constant part: a chunk, a window, the shard writer's 4 MB hashing buffer.
    assert peak < decoded_bytes / 4, f"peak {peak / 1e6:.1f} MB for a {decoded_bytes / 1e6:.1f} MB recording"


def test_manifest_windows_and_workers_give_identical_shards(tmp_path):
    rng = np.random.default_rng(6)
    (tmp_path / "data").mkdir()
    for name in ("a", "b"):
        events = _recording(rng, 4000, max_gap=50)
        (tmp_path / "data" / f"{name}.dat").write_bytes(writers.write_dat(events, width=64, height=48))
    (tmp_path / "m.csv").write_text("data/a.dat,x,train,0,60000\ndata/a.dat,y,train,30000,90000\ndata/b.dat,y,test\n")
    shards = {}
    for workers in (1, 2):
        out = tmp_path / f"out{workers}"
        convert("manifest", None, out, progress=False, workers=workers, manifest=tmp_path / "m.csv", window_us=5000, overlap=1000)
        shards[workers] = {shard.path: shard.sha256 for shard in EventStream(out, split="all").index.shards}
        samples = stream_samples(out)
        assert all(key.startswith(("data_a_row000001_", "data_a_row000002_", "data_b_row000003_")) for key in samples)
        assert all(s["events"]["t"][-1] - s["events"]["t"][0] < 5000 for s in samples.values())
    assert shards[1] == shards[2]
