"""Shards from the writer, read back by the tar reader and the stream, alone and in DataLoaders."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import webdataset as wds
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

import shardgen
from neuroshards.index import load_index, sample_checksum
from neuroshards.record import decode_events
from neuroshards.tar import iter_members, member_header
from shardgen.cli import main as shardgen_main
from shardgen.formats import decode_atis_bin
from shardgen.synthetic import write_synthetic_nmnist
from streams import EventStream, ShardError, stages
from streams.functional import integrate_events_by_fixed_frames_number


@pytest.fixture(scope="module")
def raw_nmnist(tmp_path_factory) -> Path:
    return write_synthetic_nmnist(tmp_path_factory.mktemp("raw"), train_per_class=5, test_per_class=2, events_per_sample=600)


@pytest.fixture(scope="module")
def shards(raw_nmnist, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shards")
    shardgen.convert("nmnist", raw_nmnist, out, max_samples=7, progress=False)
    return out


def test_shards_are_byte_identical_for_one_and_two_workers(raw_nmnist, tmp_path):
    one = shardgen.convert("nmnist", raw_nmnist, tmp_path / "one", workers=1, max_samples=7, progress=False)
    two = shardgen.convert("nmnist", raw_nmnist, tmp_path / "two", workers=2, max_samples=7, progress=False)
    assert one.n_shards == two.n_shards > 2
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "two").iterdir())
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name
    assert not [name for name in names if name.startswith(".")], "no spool or temporary file is left behind"


def test_index_describes_the_shards_exactly(shards):
    index = load_index(shards)
    assert index.dataset == "nmnist" and index.sensor_size == [34, 34, 2] and index.classes == [str(d) for d in range(10)]
    assert index.splits["train"]["n_samples"] == 50 and index.splits["test"]["n_samples"] == 20
    for shard in index.shards:
        data = (shards / shard.path).read_bytes()
        assert len(data) == shard.bytes
        assert hashlib.sha256(data).hexdigest() == shard.sha256
        assert shard.n_samples <= 7 and shard.path.startswith(shard.split)
        with tarfile.open(shards / shard.path) as archive:
            members = archive.getmembers()
            assert {m.mtime for m in members} == {0} and {m.uname for m in members} == {""}
    samples = index.samples
    assert np.array_equal(np.repeat(np.arange(len(index.shards)), [s.n_samples for s in index.shards]), samples.shard)
    for row in range(len(samples)):
        shard = index.shards[samples.shard[row]]
        key, offset, size = samples.key_of(row), int(samples.offset[row]), int(samples.size[row])
        data = (shards / shard.path).read_bytes()[offset : offset + size]
        assert sample_checksum(data) == samples.checksum[row]
        members = dict(iter_members(io.BytesIO(data), shard.path))
        assert set(members) == {f"{key}.events.msgpack", f"{key}.cls"}
        assert int(members[f"{key}.cls"]) == samples.label[row]
        assert len(decode_events(members[f"{key}.events.msgpack"])["t"]) == samples.n_events[row]


def test_our_tar_reader_agrees_with_tarfile(shards):
    for path in sorted(shards.glob("*.tar")):
        with tarfile.open(path) as archive:
            expected = [(m.name, archive.extractfile(m).read()) for m in archive.getmembers()]
        with open(path, "rb") as handle:
            assert list(iter_members(handle, str(path))) == expected


def test_damaged_shards_fail_with_the_shard_and_offset(shards, tmp_path):
    data = (shards / "train-000000.tar").read_bytes()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(data[:1500])
    with pytest.raises(ShardError, match=r"cut\.tar at byte 0: member .* truncated"):
        list(iter_members(open(cut, "rb"), str(cut)))
    flipped = bytearray(data)
    flipped[5] ^= 0x01  # a letter of the first member's name: the header checksum no longer holds
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(flipped))
    with pytest.raises(ShardError, match=r"bad\.tar at byte 0: tar header checksum"):
        list(iter_members(open(bad, "rb"), str(bad)))


def test_stream_yields_canonical_samples_of_one_split(shards, raw_nmnist):
    samples = list(EventStream(shards, split="test"))
    assert len(samples) == 20
    for sample in samples:
        assert set(sample) >= {"__key__", "events", "label", "sensor_size"}
        assert sample["__key__"].startswith("Test_") and sample["sensor_size"] == (34, 34, 2)
        assert {k: v.dtype for k, v in sample["events"].items()} == {"t": np.int64, "x": np.uint16, "y": np.uint16, "p": np.uint8}
        digit, number = sample["__key__"].split("_")[1:]
        assert sample["label"] == int(digit)
        original = decode_atis_bin((raw_nmnist / "Test" / digit / f"{number}.bin").read_bytes())
        for name in "txyp":
            np.testing.assert_array_equal(sample["events"][name], original[name])


def test_shuffle_is_a_permutation_that_depends_on_the_seed(shards):
    plain = [s["__key__"] for s in EventStream(shards, split="train")]
    first = [s["__key__"] for s in EventStream(shards, split="train", shuffle=True, seed=1)]
    again = [s["__key__"] for s in EventStream(shards, split="train", shuffle=True, seed=1)]
    other = [s["__key__"] for s in EventStream(shards, split="train", shuffle=True, seed=2)]
    assert sorted(first) == sorted(plain) and first == again and first != plain and first != other


def test_loader_with_two_workers_yields_every_sample_exactly_once(shards):
    stream = EventStream(shards, split="train", shuffle=True, seed=3).map(lambda s: s["__key__"])
    keys = list(stream.loader(num_workers=2))
    expected = [s["__key__"] for s in EventStream(shards, split="train")]
    assert Counter(keys) == Counter(expected) and len(keys) == 50


def test_a_plain_dataloader_with_workers_is_refused_with_advice(shards):
    stream = EventStream(shards, split="train")
    with pytest.raises(Exception, match=r"use stream.loader\(num_workers=...\)"):
        list(DataLoader(stream, batch_size=None, num_workers=2))


def test_padded_frame_batches_inside_workers(shards):
    stream = EventStream(shards, split="train").frames(8, split_by="time").batch(6)
    batches = list(stream.loader(num_workers=2))
    assert sum(len(batch["label"]) for batch in batches) == 50 == len(stream.catalog)
    frames, labels, lengths = batches[0]["frames"], batches[0]["label"], batches[0]["lengths"]
    assert frames.shape[1:] == (8, 2, 34, 34) and frames.dtype == torch.float32
    assert torch.equal(lengths, torch.full((len(labels),), 8))
    assert len(batches[0]["__key__"]) == len(labels)


def test_stages_compose_in_a_plain_webdataset_pipeline(shards):
    urls = [str(p) for p in sorted(shards.glob("train-*.tar"))]
    pipeline = wds.DataPipeline(
        wds.SimpleShardList(urls), wds.tarfile_to_samples(), stages.decode(), stages.frames(4), stages.batch(10)
    )
    direct = {s["__key__"]: s for s in EventStream(shards, split="train")}
    total = 0
    for batch in pipeline:
        total += len(batch["label"])
        assert batch["frames"].shape[1:] == (4, 2, 34, 34)
    assert total == len(direct)
    one = next(iter(wds.DataPipeline(wds.SimpleShardList(urls[:1]), wds.tarfile_to_samples(), stages.decode(), stages.frames(4))))
    expected = integrate_events_by_fixed_frames_number(direct[one["__key__"]]["events"], "number", 4, 34, 34)
    np.testing.assert_array_equal(one["frames"], expected)


def test_plain_webdataset_users_can_decode_records(shards):
    url = str(shards / "test-000000.tar")
    dataset = wds.WebDataset(url, shardshuffle=False).decode(wds.handle_extension("events.msgpack", decode_events))
    sample = next(iter(dataset))
    assert isinstance(sample["cls"], int) and sample["events.msgpack"]["t"].dtype == np.int64


def test_own_stage_and_augmentations_chain_fluently(shards):
    def only_even_labels(source):
        for sample in source:
            if sample["label"] % 2 == 0:
                yield sample

    base = {s["__key__"]: s for s in EventStream(shards, split="train")}
    flipped = list(EventStream(shards, split="train").compose(only_even_labels).flip_horizontal(1.0))
    assert flipped and all(s["label"] % 2 == 0 for s in flipped)
    for sample in flipped:
        np.testing.assert_array_equal(sample["events"]["x"], 33 - base[sample["__key__"]]["events"]["x"])
    dropped = [len(s["events"]["t"]) for s in EventStream(shards, split="train").drop_events(0.5, seed=1)]
    again = [len(s["events"]["t"]) for s in EventStream(shards, split="train").drop_events(0.5, seed=1)]
    full = [len(s["events"]["t"]) for s in base.values()]
    assert dropped == again and sum(dropped) < 0.6 * sum(full)


def test_rerun_into_the_same_folder_replaces_stale_shards(raw_nmnist, tmp_path):
    shardgen.convert("nmnist", raw_nmnist, tmp_path, max_samples=3, progress=False)
    many = sorted(p.name for p in tmp_path.glob("*.tar"))
    shardgen.convert("nmnist", raw_nmnist, tmp_path, max_samples=50, progress=False)
    few = sorted(p.name for p in tmp_path.glob("*.tar"))
    assert len(few) < len(many) and few == sorted(s.path for s in load_index(tmp_path).shards)


@settings(max_examples=300, deadline=None)
@given(
    st.text(min_size=1, max_size=120).filter(lambda name: "/" not in name and "\0" not in name),
    st.one_of(st.integers(0, 1 << 20), st.integers(8**11 - 2, 8**11 + 2)),
)
def test_tar_headers_are_the_ones_tarfile_writes(name, size):
    """The writer fills a template where it can; the bytes must stay tarfile's own (long names
    and sizes over 8 GiB go to tarfile itself, which refuses what ustar cannot hold)."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = size, 0, 0o444, 0, 0, "", ""
    try:
        expected = info.tobuf(tarfile.USTAR_FORMAT, "utf-8", "surrogateescape")
    except ValueError:
        with pytest.raises(ValueError):
            member_header(name, size)
        return
    assert member_header(name, size) == expected


def test_a_failing_disk_stops_the_run_with_its_error_and_a_rerun_completes(raw_nmnist, tmp_path, monkeypatch):
    """A write error on the writer's helper thread (here: the disk fills after 20 kB) reaches the
    caller; no index and no shard or temporary file is left, and the same command then succeeds."""
    from neuroshards import atomic

    class FullDisk(io.FileIO):
        written = 0

        def write(self, data):
            FullDisk.written += len(data)
            if FullDisk.written > 20_000:
                raise OSError(28, "No space left on device")
            return super().write(data)

    monkeypatch.setattr(atomic, "create_exclusive", lambda path: FullDisk(path, "x"))
    with pytest.raises(OSError, match="No space left") as caught:
        shardgen.convert("nmnist", raw_nmnist, tmp_path / "out", max_samples=7, progress=False)
    assert caught.value.filename and caught.value.filename.startswith(str(tmp_path / "out"))  # names the file
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []
    monkeypatch.undo()
    shardgen.convert("nmnist", raw_nmnist, tmp_path / "out", max_samples=7, progress=False)
    assert load_index(tmp_path / "out").splits["train"]["n_samples"] == 50


def test_cli_convert_info_and_list(raw_nmnist, tmp_path, capsys):
    assert (
        shardgen_main(
            [
                "convert",
                "nmnist",
                "--raw",
                str(raw_nmnist),
                "--out",
                str(tmp_path),
                "--workers",
                "2",
                "--max-bytes",
                "64k",
                "--compression",
                "zstd",
                "--quiet",
            ]
        )
        == 0
    )
    assert "70 samples" in capsys.readouterr().out
    index = load_index(tmp_path)
    assert all(shard.bytes <= 64 << 10 for shard in index.shards)
    assert shardgen_main(["info", str(tmp_path)]) == 0
    assert "train: 50 samples" in capsys.readouterr().out
    assert shardgen_main(["info", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["splits"]["test"]["n_samples"] == 20
    assert shardgen_main(["list"]) == 0
    assert "nmnist" in capsys.readouterr().out
    assert shardgen_main(["info", str(tmp_path / "nowhere")]) == 1
    assert "no index" in capsys.readouterr().err
