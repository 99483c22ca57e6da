"""streams.datasets against SpikingJelly 2.0's own dataset classes, sample by sample.

The references (tests/references/spikingjelly_datasets/, made by
scripts/references/make_spikingjelly_dataset_references.py) hold what SpikingJelly's ``ds[i]`` returned on the
raw trees of shardgen/synthetic/spikingjelly_cases.py: per split and configuration (events; frames by
number, by time, by duration; a custom integration), every sample's label and a digest of its data
(dtype, shape, bytes), in SpikingJelly's order. Here the same raw trees go through shardgen and
``streams.datasets``, and every ``ds[i]`` must give the same digest and label.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import shardgen
import streams.datasets as datasets
from shardgen.synthetic.spikingjelly_cases import CASES, SAMPLES, digest, label_signature, loose_digest
from streams.functional import pad_sequence_collate

REFERENCES = Path(__file__).resolve().parent / "references" / "spikingjelly_datasets"

# Samples whose data cannot equal SpikingJelly's byte for byte, and why; their values must still
# agree (loose_digest: events whatever their dtype, shape and order; frames' events per frame and
# per pixel). (dataset, configuration, split, SpikingJelly's file); "*" stands for every sample.
TIES = "events at equal times: SpikingJelly's unstable argsort orders them by the NumPy build; ours keep a stable order"
VALUES_ONLY = {
    ("asldvs", "event", "all", "a/a_0002.npz"): "one event: SpikingJelly's squeeze() makes 0-D arrays; ours are 1-D",
    (
        "asldvs",
        "event",
        "all",
        "y/y_0002.npz",
    ): "integer .mat variables: SpikingJelly keeps their dtypes; ours are the published files' float64",
    **{
        (
            name,
            "event",
            split,
            "h5:2",
        ): "float16 times below 2**-9 s: the shards hold µs, so sub-µs float16 values are not rebuilt"
        for name, splits in (("shd", ("train", "test")), ("ssc", ("train", "valid", "test")))
        for split in splits
    },
    ("esimagenet", "event", "train", "*"): TIES,
    ("esimagenet", "event", "test", "*"): TIES,
    ("esimagenet", "number", "train", "*"): TIES + " (so which of them a frame of N/T events holds)",
    ("esimagenet", "number", "test", "*"): TIES + " (so which of them a frame of N/T events holds)",
}

# NAV Gesture: where SpikingJelly's reader rejects events it also loses as many from the end of the
# recording; shardgen keeps them (shardgen/datasets/navgesture.py). There SpikingJelly's events are
# the start of ours (navgesture_spikingjelly.npz holds them) and its frames, integrated from fewer
# events, are not compared.
NAVGESTURE_REFERENCE = REFERENCES.parent / "navgesture_spikingjelly.npz"


def navgesture_losses() -> set[str]:
    with np.load(NAVGESTURE_REFERENCE) as reference:
        return {str(key) for key, removed in zip(reference["keys"], reference["removed"]) if removed}


def reference(name: str) -> dict:
    with np.load(REFERENCES / f"{name}.npz") as archive:
        return json.loads(str(archive["manifest"]))


@pytest.fixture(scope="module")
def shard_root(tmp_path_factory):
    """The case's raw tree converted by shardgen (once per dataset)."""
    converted: dict[str, Path] = {}

    def convert(name: str) -> Path:
        if name not in converted:
            case = CASES[name]
            if case.needs_samples and not (SAMPLES / "REFERENCE.json").is_file():
                pytest.skip(f"real recordings not available: {SAMPLES} is absent")
            folder = tmp_path_factory.mktemp(name)
            raw = case.write_raw(folder / "raw")
            shardgen.convert(case.dataset, raw, folder / "shards", progress=False, verify=False, **case.convert_options)
            converted[name] = folder / "shards"
        return converted[name]

    return convert


def values_only(name: str, config: str, split: str, file: str) -> bool:
    return (name, config, split, file) in VALUES_ONLY or (name, config, split, "*") in VALUES_ONLY


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_sample_equals_spikingjelly(name, shard_root):
    case, expected = CASES[name], reference(name)
    root = shard_root(name)
    cls = getattr(datasets, case.spikingjelly_class)
    configurations = case.configurations()
    for config, entry in expected["configurations"].items():
        for split, split_reference in entry["splits"].items():
            dataset = cls(root, **case.splits[split], **configurations[config])
            samples = split_reference["samples"]
            assert len(dataset) == len(samples), (config, split)
            for index, (file, label, data_digest, loose) in enumerate(samples):
                data, our_label = dataset[index]
                where = f"{name} {config} {split}[{index}] = SpikingJelly's {file} (ours: {dataset.keys[index]})"
                assert label_signature(our_label) == label, where
                if name == "navgesture-walk" and dataset.keys[index] in navgesture_losses():
                    if config == "event":
                        assert_spikingjelly_events_start_ours(data, dataset.keys[index])
                elif values_only(name, config, split, file):
                    assert loose_digest(data) == loose, where
                else:
                    assert digest(data) == data_digest, where


def assert_spikingjelly_events_start_ours(events: dict, key: str) -> None:
    with np.load(NAVGESTURE_REFERENCE) as reference:
        row = list(reference["keys"]).index(key)
        bounds = np.concatenate(([0], np.cumsum(reference["counts"])))
        theirs = {field: reference[field][bounds[row] : bounds[row + 1]] for field in "txyp"}
    assert len(events["t"]) > len(theirs["t"])
    for field in "txyp":
        assert events[field].dtype == np.int64
        np.testing.assert_array_equal(events[field][: len(theirs[field])], theirs[field])


def test_values_only_exceptions_are_needed():
    """Each exception names samples of the references."""
    for name, config, split, file in VALUES_ONLY:
        samples = reference(name)["configurations"][config]["splits"][split]["samples"]
        assert file == "*" or file in [sample[0] for sample in samples], (name, config, split, file)


def test_tebn_split_holds_spikingjelly_samples_in_its_order(shard_root):
    """CIFAR10DVSTEBNSplit's files, as SpikingJelly listed them on the same fixture (inivation.json);
    its samples are CIFAR10DVS's, compared above."""
    expected = json.loads((REFERENCES.parent / "inivation.json").read_text())["cifar10dvs"]["tebn"]
    whole = datasets.CIFAR10DVS(shard_root("cifar10dvs"))
    for split in ("train", "test"):
        dataset = datasets.CIFAR10DVSTEBNSplit(shard_root("cifar10dvs"), train=split == "train")
        assert dataset.keys == expected[split]
        position = whole.keys.index(dataset.keys[-1])
        assert dataset.targets[-1] == whole.targets[position]


def test_plain_rules_as_options(shard_root):
    """labels="dataset": the index's labels (DVS128 Gesture: csv class - 1, whose SpikingJelly label
    is extra.spikingjelly_labels[label]); order="events": the event files' order for duration frames."""
    root = shard_root("dvs128gesture")
    spikingjelly = datasets.DVS128Gesture(root, train=True, data_type="frame", frames_number=2, split_by="number")
    plain = datasets.DVS128Gesture(root, train=True, data_type="frame", frames_number=2, split_by="number", labels="dataset")
    mapping = spikingjelly.shards.index.extra["spikingjelly_labels"]
    assert plain.keys == spikingjelly.keys
    assert [mapping[label] for label in plain.targets] == spikingjelly.targets != plain.targets
    assert all(int(key.rsplit("_", 2)[1]) == label for key, label in zip(plain.keys, plain.targets))
    shd = datasets.SpikingHeidelbergDigits(
        shard_root("shd"), train=True, data_type="frame", frames_number=2, split_by="number", labels="dataset"
    )
    events = datasets.SpikingHeidelbergDigits(shard_root("shd"), train=True)
    assert sorted(shd.targets) == sorted(int(label) for _, label in (events[i] for i in range(len(events))))

    root = shard_root("cifar10dvs")
    by_events = datasets.CIFAR10DVS(root, data_type="frame", duration=300_000, order="events")
    assert by_events.keys == datasets.CIFAR10DVS(root).keys != datasets.CIFAR10DVS(root, data_type="frame", duration=300_000).keys
    with pytest.raises(ValueError, match="order must be one of"):
        datasets.CIFAR10DVS(root, order="sorted")


def test_dataloader_shuffles_and_pads_variable_length_frames(shard_root):
    dataset = datasets.DVS128Gesture(shard_root("dvs128gesture"), train=True, data_type="frame", duration=100_000)
    direct = sorted((int(label), float(frames.sum()), len(frames)) for frames, label in (dataset[i] for i in range(len(dataset))))
    loader = DataLoader(dataset, batch_size=5, shuffle=True, num_workers=2, collate_fn=pad_sequence_collate)
    seen = []
    for frames, labels, lengths in loader:
        assert frames.dtype == torch.float32 and frames.shape[2:] == (2, 128, 128)
        assert frames.shape[1] == int(lengths.max())
        for row, label, length in zip(frames, labels, lengths):
            assert not row[int(length) :].any()
            seen.append((int(label), float(row.sum()), int(length)))
    assert sorted(seen) == direct
    assert len(set(length for _, _, length in direct)) > 1  # the padding was exercised


def test_default_collate_with_fixed_frames_and_transforms(shard_root):
    dataset = datasets.NMNIST(
        shard_root("nmnist"),
        train=False,
        data_type="frame",
        frames_number=4,
        split_by="number",
        transform=torch.from_numpy,
        target_transform=lambda label: label + 100,
    )
    frames, labels = next(iter(DataLoader(dataset, batch_size=16, shuffle=True, num_workers=2)))
    assert frames.shape == (10, 4, 2, 34, 34) and sorted(labels.tolist()) == list(range(100, 110))


def test_shd_custom_integration_takes_one_samples_events(shard_root):
    """SpikingJelly's SHD custom function writes files itself; ours returns one sample's frames,
    given the sample's events as data_type="event" gives them."""

    def channel_counts(events, W):
        return np.bincount(events["x"], minlength=W)[None, :]

    events = datasets.SpikingSpeechCommands(shard_root("ssc"), split="valid")
    frames = datasets.SpikingSpeechCommands(
        shard_root("ssc"), split="valid", data_type="frame", custom_integrate_function=channel_counts
    )
    assert sorted(frames.keys) == sorted(events.keys)
    for index, key in enumerate(frames.keys):
        data, _label = frames[index]
        expected = np.bincount(events[events.keys.index(key)][0]["x"], minlength=700)
        assert data.dtype == np.float32 and data.shape == (1, 700)
        np.testing.assert_array_equal(data[0], expected)


def test_spikingjelly_argument_rules():
    with pytest.raises(ValueError, match="data_type"):
        datasets.CIFAR10DVS("unused", data_type="frames")
    with pytest.raises(ValueError, match="one and only one"):
        datasets.CIFAR10DVS("unused", data_type="frame", frames_number=4, duration=1000)
    with pytest.raises(ValueError, match="split_by"):
        datasets.CIFAR10DVS("unused", data_type="frame", frames_number=4)
    with pytest.raises(ValueError, match="train"):
        datasets.DVS128Gesture("unused", train=None)
    with pytest.raises(ValueError, match="train_test_val"):
        datasets.HARDVS("unused")
    with pytest.raises(ValueError, match="valid splits"):
        datasets.SpikingSpeechCommands("unused", split="validation")


def test_a_root_without_shards_says_which_convert_command_makes_them(tmp_path):
    spikingjelly_root = tmp_path / "DVS128Gesture"
    (spikingjelly_root / "download").mkdir(parents=True)
    (spikingjelly_root / "download" / "DvsGesture.tar.gz").write_bytes(b"")
    with pytest.raises(
        FileNotFoundError, match=r"shardgen convert dvs128gesture --raw \S+/DVS128Gesture/download --out \S+/DVS128Gesture/shards"
    ):
        datasets.DVS128Gesture(spikingjelly_root)
    shd_root = tmp_path / "SHD"
    for folder in ("download", "extract", "events_h5"):
        (shd_root / folder).mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"shardgen convert shd --raw \S+/SHD/extract "):
        datasets.SpikingHeidelbergDigits(shd_root)
    downloads = tmp_path / "cifar"
    downloads.mkdir()
    (downloads / "airplane.zip").write_bytes(b"")
    with pytest.raises(
        FileNotFoundError,
        match=r"(?s)holds the CIFAR10-DVS download.*shardgen convert cifar10dvs --raw \S+/cifar --out \S+/cifar/shards",
    ):
        datasets.CIFAR10DVS(downloads)
    with pytest.raises(FileNotFoundError, match=r"(?s)does not exist.*--allow-pickle"):
        datasets.Bullying10kClassification(tmp_path / "absent")


def test_shards_of_another_dataset_are_refused(shard_root):
    with pytest.raises(ValueError, match="'nmnist', not of 'navgesture-sit'"):
        datasets.NAVGestureSit(shard_root("nmnist"))
