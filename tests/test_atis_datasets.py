"""N-MNIST and N-Caltech101: real recordings, archives read in place, labels, keys, errors."""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import shardgen
from neuroshards.record import encode_events, encode_packed
from shardgen import ConversionError
from shardgen.datasets import get_dataset
from shardgen.formats import FormatError, decode_atis_bin, encode_atis_bin, pack_atis_bin
from shardgen.formats.rawtree import RawInputError
from shardgen.synthetic import synthetic_recording, write_synthetic_nmnist
from streams import EventStream

from conftest import assert_matches_reference

NMNIST_FILES = ["1.bs2", "2.bs2", "3.bs2", "4.bs2", "60001.bs2", "60002.bs2", "60003.bs2", "60004.bs2", "sample_nmnist.bin"]


@pytest.mark.parametrize("name", NMNIST_FILES)
def test_real_nmnist_recordings_decode_to_the_reference(samples_dir, reference, name):
    path = samples_dir / "nmnist" / name
    events = decode_atis_bin(path.read_bytes(), source=str(path))
    assert_matches_reference(events, reference[f"nmnist/{name}"])


@pytest.fixture()
def real_nmnist_tree(samples_dir, tmp_path) -> Path:
    """The real recordings laid out as N-MNIST distributes them (Train/<digit>/, Test/<digit>/)."""
    root = tmp_path / "N-MNIST"
    with open(samples_dir / "nmnist" / "labels.csv") as handle:
        for row in csv.DictReader(handle):
            folder = root / row["split"].capitalize() / row["label"]
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy(samples_dir / "nmnist" / row["file"], folder / row["file"].replace(".bs2", ".bin"))
    return root


def test_real_nmnist_through_shards_and_stream_is_lossless(real_nmnist_tree, reference, samples_dir, tmp_path):
    summary = shardgen.convert("nmnist", real_nmnist_tree, tmp_path / "shards", progress=False)
    assert summary.n_samples == 8
    labels = {
        row["file"].split(".")[0]: (row["split"], int(row["label"]))
        for row in csv.DictReader(open(samples_dir / "nmnist" / "labels.csv"))
    }
    for split in ("train", "test"):
        seen = set()
        for sample in EventStream(tmp_path / "shards", split=split):
            stem = sample["__key__"].rsplit("_", 1)[1]
            assert labels[stem] == (split, sample["label"])
            assert sample["__key__"] == f"{split.capitalize()}_{sample['label']}_{stem}"
            assert_matches_reference(sample["events"], reference[f"nmnist/{stem}.bs2"])
            seen.add(stem)
        assert seen == {stem for stem, (s, _) in labels.items() if s == split}


def test_archives_are_read_in_place_and_give_the_same_shards_as_the_extracted_folder(tmp_path):
    extracted = write_synthetic_nmnist(tmp_path / "extracted", train_per_class=2, test_per_class=1, events_per_sample=500)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    for split in ("Train", "Test"):
        with zipfile.ZipFile(downloads / f"{split}.zip", "w") as archive:
            for path in sorted((extracted / split).rglob("*.bin")):
                archive.write(path, path.relative_to(extracted).as_posix())
    from_folder = shardgen.convert("nmnist", extracted, tmp_path / "a", progress=False)
    from_zip = shardgen.convert("nmnist", downloads, tmp_path / "b", progress=False, verify=False)
    assert from_folder.n_samples == from_zip.n_samples == 30
    for shard in sorted(p.name for p in (tmp_path / "a").iterdir()):
        assert (tmp_path / "a" / shard).read_bytes() == (tmp_path / "b" / shard).read_bytes(), shard


def test_archive_with_the_wrong_md5_is_refused_naming_the_file(tmp_path):
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with zipfile.ZipFile(downloads / "Train.zip", "w") as archive:
        archive.writestr("Train/0/00001.bin", encode_atis_bin(synthetic_recording(0, np.random.default_rng(0), 50)))
    with pytest.raises(RawInputError, match=r"Train\.zip.*MD5"):
        shardgen.convert("nmnist", downloads, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "index.json").exists()


@pytest.mark.parametrize("workers", [1, 2])
def test_truncated_recording_names_the_file_and_offset(tmp_path, workers):
    root = write_synthetic_nmnist(tmp_path / "raw", train_per_class=1, test_per_class=1, events_per_sample=100)
    victim = root / "Train" / "4" / sorted(p.name for p in (root / "Train" / "4").iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:-2])
    with pytest.raises(ConversionError, match=rf"{victim}.*byte \d+.*truncated"):
        shardgen.convert("nmnist", root, tmp_path / "out", progress=False, workers=workers)
    assert not (tmp_path / "out" / "index.json").exists()
    assert not list((tmp_path / "out").iterdir()), "a failed run must leave no shard or spool file behind"


def test_missing_dataset_says_where_to_get_it(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here")
    with pytest.raises(RawInputError, match="Train.zip.*garrickorchard"):
        shardgen.convert("nmnist", tmp_path / "empty", tmp_path / "out", progress=False)


def atis_arrays(y_values=st.integers(0, 255)):
    """t, x, y, p arrays that the ATIS writer can hold."""
    return st.integers(0, 200).flatmap(
        lambda n: st.tuples(
            hnp.arrays(np.int64, n, elements=st.integers(0, (1 << 23) - 1)),
            hnp.arrays(np.uint16, n, elements=st.integers(0, 255)),
            hnp.arrays(np.uint16, n, elements=y_values),
            hnp.arrays(np.uint8, n, elements=st.integers(0, 1)),
        )
    )


@settings(max_examples=100, deadline=None)
@given(atis_arrays())
def test_atis_parser_inverts_the_writer(arrays):
    t, x, y, p = arrays
    decoded = decode_atis_bin(encode_atis_bin({"t": t, "x": x, "y": y, "p": p}))
    for name, values in zip("txyp", arrays):
        np.testing.assert_array_equal(decoded[name], values)


@settings(max_examples=100, deadline=None)
@given(
    atis_arrays(st.sampled_from([0, 3, 33, 179, 240, 255])),  # 240: overflow markers
    st.booleans(),
    st.sampled_from([(34, 34, 2), (240, 180, 2)]),
)
def test_atis_packed_reading_gives_the_record_of_the_decoded_events(arrays, overflow, sensor):
    """Decoding straight into the record layout gives the record of the decoded events
    (overflow markers included), and flags events beyond the sensor."""
    t, x, y, p = arrays
    data = encode_atis_bin({"t": t, "x": x, "y": y, "p": p})
    events = decode_atis_bin(data, overflow=overflow)
    packed = pack_atis_bin(data, sensor, overflow=overflow)
    assert encode_packed(packed, sensor) == encode_events(events, sensor)
    beyond = len(events["t"]) and (events["x"].max() >= sensor[0] or events["y"].max() >= sensor[1])
    assert packed.outside(sensor) == bool(beyond)


def test_atis_overflow_markers_extend_time_when_asked():
    events = {
        "t": np.array([10, 20, 5, 7]),
        "x": np.array([1, 0, 2, 3]),
        "y": np.array([1, 240, 2, 3]),
        "p": np.array([1, 0, 0, 1]),
    }
    data = encode_atis_bin(events)
    verbatim = decode_atis_bin(data)
    np.testing.assert_array_equal(verbatim["y"], [1, 240, 2, 3])  # SpikingJelly's reading
    extended = decode_atis_bin(data, overflow=True)
    np.testing.assert_array_equal(extended["t"], [10, 5 + (1 << 23), 7 + (1 << 23)])
    np.testing.assert_array_equal(extended["x"], [1, 2, 3])


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=64))
def test_atis_parser_never_returns_wrong_events_for_arbitrary_bytes(data):
    try:
        events = decode_atis_bin(data, source="fuzz.bin")
    except FormatError as error:
        assert "fuzz.bin at byte" in str(error)
        assert len(data) % 5
    else:
        assert len(events["t"]) * 5 == len(data)


def test_ncaltech101_labels_follow_spikingjelly_sorted_class_folders(tmp_path):
    rng = np.random.default_rng(3)
    classes = ["accordion", "BACKGROUND_Google", "Faces_easy", "airplanes"]
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with zipfile.ZipFile(downloads / "Caltech101.zip", "w") as archive:
        for name in classes:
            for number in (2, 1):
                archive.writestr(f"Caltech101/{name}/image_{number:04d}.bin", encode_atis_bin(synthetic_recording(1, rng, 30)))
    with zipfile.ZipFile(downloads / "Caltech101_annotations.zip", "w") as archive:
        archive.writestr("Caltech101_annotations/accordion/annotation_0001.bin", b"\0" * 10)
    plan = get_dataset("ncaltech101")().plan(downloads)
    assert plan.classes == sorted(classes) == ["BACKGROUND_Google", "Faces_easy", "accordion", "airplanes"]
    assert [task.key for task in plan.tasks][:3] == [
        "BACKGROUND_Google_image_0001",
        "BACKGROUND_Google_image_0002",
        "Faces_easy_image_0001",
    ]
    assert [task.label for task in plan.tasks] == [0, 0, 1, 1, 2, 2, 3, 3]
    summary = shardgen.convert("ncaltech101", downloads, tmp_path / "out", progress=False, verify=False)
    assert summary.n_samples == 8 and summary.splits == {"all": {"n_samples": 8, "n_events": 240, "n_shards": 1}}
