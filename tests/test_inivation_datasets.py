"""CIFAR10-DVS and DVS128 Gesture: converted samples, labels and splits equal SpikingJelly's on the
same fixture files (tests/references/inivation.json, made by scripts/references/make_inivation_references.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import shardgen
from neuroshards.index import IndexFileError, load_index
from shardgen.datasets.base import RawFile
from shardgen.datasets.inivation_datasets import (
    DVS128Gesture,
    read_cifar10dvs,
    spikingjelly_gesture_label,
)
from shardgen.formats import concatenate
from shardgen.formats.aedat2 import Aedat2Reader
from shardgen.formats.aedat3 import Aedat3Reader
from shardgen.formats.rawtree import RawInputError
from shardgen.synthetic import inivation as writers
from streams import EventStream
from streams.splits import first_fraction_per_class, spikingjelly_split, tebn_split

REFERENCE = json.loads((Path(__file__).parent / "references" / "inivation.json").read_text())


def digest(events: dict) -> list:
    h = hashlib.sha256()
    for name, dtype in (("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "|u1")):
        h.update(np.ascontiguousarray(events[name], dtype=dtype).tobytes())
    return [int(len(events["t"])), h.hexdigest()]


def file_digests(root: Path) -> dict:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def converted(out: Path, split: str | None = None) -> list[list]:
    return [[s["__key__"], s["label"], *digest(s["events"])] for s in EventStream(out, split=split)]


# CIFAR10-DVS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cifar_shards(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cifar")
    extracted = writers.cifar10dvs_tree(root / "extracted", as_zip=False)
    assert file_digests(extracted) == REFERENCE["cifar10dvs"]["fixture_files"], "the writers changed: rerun the script"
    writers.cifar10dvs_tree(root / "download")
    shardgen.convert("cifar10dvs", root / "download", root / "shards", verify=False, progress=False, max_samples=16)
    return root


def test_cifar10dvs_samples_equal_spikingjelly(cifar_shards):
    # index order is SpikingJelly's dataset order: label, then file name as a string
    assert converted(cifar_shards / "shards") == REFERENCE["cifar10dvs"]["samples"]
    index = load_index(cifar_shards / "shards")
    assert index.classes == list(writers.CIFAR10DVS_CLASSES) and index.sensor_size == [128, 128, 2]


def test_cifar10dvs_extracted_folder_gives_the_same_shards(cifar_shards, tmp_path):
    shardgen.convert("cifar10dvs", cifar_shards / "extracted", tmp_path, verify=False, progress=False, max_samples=16)
    assert [s.sha256 for s in load_index(tmp_path).shards] == [s.sha256 for s in load_index(cifar_shards / "shards").shards]


@pytest.mark.parametrize("ratio", [0.5, 0.9])
def test_cifar10dvs_ratio_split_from_the_index_equals_split_to_train_test_set(cifar_shards, ratio):
    train, test = spikingjelly_split(load_index(cifar_shards / "shards"), ratio)
    assert (train, test) == (
        REFERENCE["cifar10dvs"][f"split_{ratio}"]["train"],
        REFERENCE["cifar10dvs"][f"split_{ratio}"]["test"],
    )


def test_cifar10dvs_tebn_split_from_the_index_equals_spikingjelly(cifar_shards):
    train, test = tebn_split(load_index(cifar_shards / "shards"))
    assert train == REFERENCE["cifar10dvs"]["tebn"]["train"] and test == REFERENCE["cifar10dvs"]["tebn"]["test"]


def test_split_helpers_need_the_facts_in_the_index(cifar_shards, tmp_path):
    index = load_index(cifar_shards / "shards")
    index.extra = {}
    with pytest.raises(IndexFileError, match="spikingjelly_order"):
        spikingjelly_split(index, 0.9)
    with pytest.raises(IndexFileError, match="tebn_test_below"):
        tebn_split(index)


def test_first_fraction_per_class_takes_the_ceiling():
    samples = [("a0", 0), ("b0", 1), ("a1", 0), ("a2", 0), ("b1", 1)]
    assert first_fraction_per_class(samples, 0.5) == (["a0", "a1", "b0"], ["a2", "b1"])
    assert first_fraction_per_class(samples, 0.0) == ([], ["a0", "a1", "a2", "b0", "b1"])


def test_real_mnist_dvs_read_as_cifar10dvs_equals_spikingjelly(samples_dir):
    path = samples_dir / "aedat2/mnist_0_scale04_0001.aedat"
    events = read_cifar10dvs(RawFile("airplane/cifar10_airplane_0.aedat", str(path)))
    assert digest(events) == REFERENCE["cifar10dvs"]["mnist_dvs_as_cifar10dvs"]


def test_davis240_layout_equals_spikingjelly_filter_dvs():
    data = writers.davis_fixture()
    expected = REFERENCE["cifar10dvs"]["davis240_filter_dvs"]
    assert hashlib.sha256(data).hexdigest() == expected["sha256"]
    import io

    reader = Aedat2Reader(io.BytesIO(data), source="davis240.aedat")
    assert reader.layout == "davis"
    assert digest(concatenate(reader.chunks(500))) == expected["events"]


# DVS128 Gesture --------------------------------------------------------------------------------


def gesture_trials(samples_dir: Path | None) -> dict:
    trials = dict(writers.GESTURE_TRIALS)
    if samples_dir is not None:
        data = (samples_dir / "dvs128_gesture/user01_natural_labels.csv").read_bytes()
        trials["user01_natural"] = ("train", writers.read_label_rows(data), data)
    return trials


@pytest.fixture(scope="module")
def gesture_shards(tmp_path_factory, request) -> tuple[Path, set]:
    try:
        samples = request.getfixturevalue("samples_dir")
    except pytest.skip.Exception:
        samples = None  # the comparison then covers the synthetic trials only
    root = tmp_path_factory.mktemp("gesture")
    trials = gesture_trials(samples)
    extracted = writers.gesture_tree(root / "extracted", trials=trials, as_tar=False)
    expected_files = {
        name: sha
        for name, sha in REFERENCE["dvs128gesture"]["fixture_files"].items()
        if not name.startswith("DvsGesture/trials_to")
        and name.split("/")[-1].split(".")[0].removesuffix("_labels") in set(trials) | {"gesture_mapping"}
    }
    actual_files = {name: sha for name, sha in file_digests(extracted).items() if name in expected_files}
    assert actual_files == expected_files, "the writers changed: rerun scripts/references/make_inivation_references.py"
    writers.gesture_tree(root / "download", trials=trials)
    shardgen.convert("dvs128gesture", root / "download", root / "shards", verify=False, progress=False, max_samples=8)
    return root, set(trials)


@pytest.mark.parametrize("split", ["train", "test"])
def test_dvs128gesture_samples_equal_spikingjelly(gesture_shards, split):
    root, trials = gesture_shards
    ours = {key: rest for key, *rest in converted(root / "shards", split)}
    reference = {
        key: (label, sj_label, n, sha)
        for key, label, sj_label, n, sha in REFERENCE["dvs128gesture"][split]
        if key.rsplit("_", 2)[0] in trials
    }
    assert set(ours) == set(reference)
    for key, (label, sj_label, n, sha) in reference.items():
        assert ours[key] == [label, n, sha], key
        assert spikingjelly_gesture_label(label) == sj_label


def test_dvs128gesture_index_classes_splits_and_counts(gesture_shards):
    root, trials = gesture_shards
    index = load_index(root / "shards")
    assert index.classes == list(writers.GESTURE_NAMES)
    for split in ("train", "test"):
        expected = [row for row in REFERENCE["dvs128gesture"][split] if row[0].rsplit("_", 2)[0] in trials]
        assert index.splits[split]["n_samples"] == len(expected)
        assert index.splits[split]["n_events"] == sum(row[3] for row in expected)
    assert index.extra["spikingjelly_labels"] == [spikingjelly_gesture_label(label) for label in range(11)]


def test_aedat3_reader_equals_load_aedat_v3_on_every_fixture_recording(gesture_shards):
    root, trials = gesture_shards
    for trial in trials:
        with open(root / "extracted" / "DvsGesture" / f"{trial}.aedat", "rb") as stream:
            events = concatenate(Aedat3Reader(stream, source=trial).chunks(1000))
        assert digest(events) == REFERENCE["dvs128gesture"]["load_aedat_v3"][trial], trial


def test_dvs128gesture_bad_label_rows_and_missing_files_are_named(tmp_path):
    trials = {
        "user01_fluorescent": ("train", [(1, 0, 10)], b"class,startTime_usec,endTime_usec\n1,0,10\n12,5,6\n"),
        "user24_lab": ("test", [(2, 0, 10)]),
    }
    writers.gesture_tree(tmp_path / "raw", trials=trials, as_tar=False)
    with pytest.raises(shardgen.ConversionError, match=r"user01_fluorescent_labels.csv.*: line 3"):
        shardgen.convert("dvs128gesture", tmp_path / "raw", tmp_path / "out", verify=False, progress=False)
    (tmp_path / "raw/DvsGesture/user24_lab.aedat").unlink()
    with pytest.raises(RawInputError, match="user24_lab.aedat"):
        DVS128Gesture().plan(tmp_path / "raw")


def test_readme_recipes_select_a_split_and_map_labels(cifar_shards, gesture_shards):
    import webdataset as wds

    index = load_index(cifar_shards / "shards")
    train, _test = tebn_split(index)
    wanted = set(train)
    stream = EventStream(cifar_shards / "shards").compose(wds.select(lambda sample: sample["__key__"] in wanted))
    assert sorted(sample["__key__"] for sample in stream) == sorted(train)
    root, _trials = gesture_shards
    mapped = EventStream(root / "shards", split="test").map(lambda s: {**s, "label": spikingjelly_gesture_label(s["label"])})
    expected = {row[0]: row[2] for row in REFERENCE["dvs128gesture"]["test"]}
    assert {s["__key__"]: s["label"] for s in mapped} == expected
