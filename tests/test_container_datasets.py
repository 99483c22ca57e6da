"""The container-format datasets against SpikingJelly's (or Tonic's) own readers, sample by sample.

Fixtures come from ``shardgen.synthetic.containers`` (native formats, edge cases); the references in
``references/containers`` are what SpikingJelly 2.0 / Tonic 1.7 returned for the very same files
(``scripts/references/make_container_references.py``). Each test converts the fixture with ``shardgen``,
streams the shards back and compares keys, splits, labels and events.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import shardgen
from neuroshards.events import FLOAT16_EXACT_FROM_SECONDS, microseconds_to_float16_seconds
from neuroshards.index import load_index
from shardgen import ConversionError
from shardgen.cli import main as shardgen_main
from shardgen.datasets import get_dataset, key_from_path
from shardgen.formats.rawtree import RawInputError
from shardgen.synthetic import containers as writers
from streams import EventStream

REFERENCES = Path(__file__).parent / "references" / "containers"

# How each oracle names a sample (its path or index) -> our key.
KEY_OF: dict[str, Callable[[str], str]] = {
    "asldvs": lambda identity: key_from_path(identity + ".mat"),
    "dvslip": lambda identity: key_from_path(identity + ".npy"),
    "hardvs": key_from_path,
    "esimagenet": lambda identity: key_from_path(
        f"{identity}.npz" if identity.startswith("train/") else f"val/{identity.rsplit('/', 1)[1]}.npz"
    ),
    "pokerdvs": lambda identity: key_from_path(identity + ".npy"),
    "shd": lambda identity: "shd_{}_{:06d}".format(*identity.split("/")[:1], int(identity.split("/")[1])),
    "ssc": lambda identity: "ssc_{}_{:06d}".format(*identity.split("/")[:1], int(identity.split("/")[1])),
    "ntidigits18": key_from_path,
}


def reference(name: str) -> dict:
    with np.load(REFERENCES / f"{name}.npz") as data:
        arrays = {key: data[key] for key in data.files}
    bounds = np.concatenate(([0], np.cumsum(arrays["n_events"])))
    fields = [field for field in "txyp" if field in arrays]
    samples = {}
    for index, identity in enumerate(arrays["identity"]):
        events = {field: arrays[field][bounds[index] : bounds[index + 1]] for field in fields}
        samples[str(identity)] = (str(arrays["split"][index]), int(arrays["label"][index]), events)
    return {"samples": samples, "arrays": arrays, "bounds": bounds}


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Callable[[str], tuple[dict, object]]:
    """name -> ({key: (split, label, events)} streamed back from the shards, the index)."""
    cache: dict[str, tuple[dict, object]] = {}

    def convert(name: str):
        if name not in cache:
            work = tmp_path_factory.mktemp(name)
            raw = writers.WRITERS[name](work / "raw")
            options = {"allow_pickle": True} if name == "bullying10k" else {}
            shardgen.convert(name, raw, work / "shards", progress=False, verify=False, max_samples=4, **options)
            index = load_index(work / "shards")
            samples = {}
            for split in index.splits:
                for sample in EventStream(work / "shards", split=split):
                    samples[sample["__key__"]] = (split, sample["label"], sample["events"])
            cache[name] = (samples, index)
        return cache[name]

    return convert


def assert_same_samples(ours: dict, expected: dict) -> None:
    assert sorted(ours) == sorted(expected), "different sample keys"
    for key, (split, label, events) in expected.items():
        our_split, our_label, our_events = ours[key]
        assert (our_split, our_label) == (split, label), key
        assert sorted(our_events) == sorted(events), key
        for field, values in events.items():
            np.testing.assert_array_equal(our_events[field], values, err_msg=f"{key}: field {field}")


@pytest.mark.parametrize("name", ["asldvs", "dvslip", "hardvs", "pokerdvs"])
def test_events_labels_splits_equal_the_oracle(converted, name):
    ours, index = converted(name)
    expected = {KEY_OF[name](identity): value for identity, value in reference(name)["samples"].items()}
    assert_same_samples(ours, expected)
    classes = reference(name)["arrays"].get("classes")
    if classes is not None:  # SpikingJelly's own class list, in label order
        assert index.classes == [str(name) for name in classes]


def test_asldvs_reads_the_extracted_letter_folders_too(converted, tmp_path):
    ours, _ = converted("asldvs")
    for _name, members in writers.asl_dvs_letter_zips().items():
        for member, data in members.items():
            (tmp_path / "raw" / member).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "raw" / member).write_bytes(data)
    shardgen.convert("asldvs", tmp_path / "raw", tmp_path / "shards", progress=False)
    again = {sample["__key__"]: ("all", sample["label"], sample["events"]) for sample in EventStream(tmp_path / "shards")}
    assert_same_samples(again, ours)


def test_esimagenet_matches_spikingjelly_up_to_the_order_of_equal_timestamps(converted):
    ours, index = converted("esimagenet")
    expected = {KEY_OF["esimagenet"](identity): value for identity, value in reference("esimagenet")["samples"].items()}
    assert sorted(ours) == sorted(expected)
    assert index.classes == ["class0", "class1", "class10", "class2"]  # SpikingJelly's string order
    for key, (split, label, events) in expected.items():
        our_split, our_label, our_events = ours[key]
        assert (our_split, our_label) == (split, label), key
        np.testing.assert_array_equal(our_events["t"], events["t"])
        # The same events at every timestamp: compare both sorted by (t, x, y, p).
        ours_sorted = np.lexsort([our_events[f] for f in "pyxt"])
        theirs_sorted = np.lexsort([events[f] for f in "pyxt"])
        for field in "txyp":
            np.testing.assert_array_equal(our_events[field][ours_sorted], events[field][theirs_sorted], err_msg=key)
        # Our order among equal timestamps is stable: the pos block's events before the neg block's.
        same_time = np.diff(our_events["t"]) == 0
        assert not np.any(same_time & (np.diff(our_events["p"].astype(int)) > 0)), key


def test_bullying10k_equals_spikingjelly_under_sorted_listings(converted):
    ours, index = converted("bullying10k")
    ref = reference("bullying10k")
    assert len(ours) == len(ref["samples"])
    for identity, (split, label, events) in ref["samples"].items():
        stem = identity.rsplit("/", 1)[1]
        (key,) = [key for key in ours if key.endswith("_" + stem)]
        our_split, our_label, our_events = ours[key]
        assert (our_split, our_label) == (split, label), key
        for field in "txyp":
            np.testing.assert_array_equal(our_events[field], events[field], err_msg=f"{key}: field {field}")
    assert index.classes[0] == "handshake" and index.classes[9] == "kicking"
    # On a file system that lists in another order, SpikingJelly picks other test files.
    filesystem_test = {str(stem) for stem in ref["arrays"]["filesystem_order_test"]}
    assert len(filesystem_test) == sum(split == "test" for split, _, _ in ours.values())


@pytest.mark.parametrize("name", ["shd", "ssc"])
def test_heidelberg_times_are_tonics_microseconds_and_invert_to_spikingjellys_float16(converted, name):
    ours, index = converted(name)
    ref = reference(name)
    expected = {KEY_OF[name](identity): value for identity, value in ref["samples"].items()}
    assert sorted(ours) == sorted(expected)
    tonic_t = ref["arrays"]["tonic_t"]
    for position, (identity, (split, label, events)) in enumerate(ref["samples"].items()):
        key = KEY_OF[name](identity)
        our_split, our_label, our_events = ours[key]
        assert (our_split, our_label) == (split, label)
        assert set(our_events) == {"t", "x"}
        np.testing.assert_array_equal(our_events["x"], events["x"])
        np.testing.assert_array_equal(our_events["t"], tonic_t[ref["bounds"][position] : ref["bounds"][position + 1]])
        exact = events["t"] >= FLOAT16_EXACT_FROM_SECONDS
        np.testing.assert_array_equal(microseconds_to_float16_seconds(our_events["t"])[exact], events["t"][exact])
        # Below 2**-9 s float16 times can be closer than 1 µs: the round trip is then within 1 µs.
        assert np.all(np.abs(our_events["t"] - events["t"].astype(np.float64) * 1e6) < 1)
    assert index.sensor_size == [700, 1, 1]
    assert index.classes == (writers.SHD_KEYS if name == "shd" else writers.SSC_KEYS)


def test_ntidigits18_equals_tonic_single_digits(converted):
    ours, index = converted("ntidigits18")
    expected = {KEY_OF["ntidigits18"](identity): value for identity, value in reference("ntidigits18")["samples"].items()}
    assert_same_samples(ours, expected)
    assert index.classes == ["o", "1", "2", "3", "4", "5", "6", "7", "8", "9", "z"]


# Errors name the file and say what to do ------------------------------------------------------


def test_bullying10k_needs_explicit_pickle_opt_in(tmp_path):
    raw = writers.write_bullying10k(tmp_path / "raw")
    with pytest.raises(RawInputError, match="unpickling runs code.*--allow-pickle"):
        shardgen.convert("bullying10k", raw, tmp_path / "out", progress=False)  # refused before any MD5 work
    command = ["convert", "bullying10k", "--raw", str(raw), "--out", str(tmp_path / "out"), "--quiet", "--no-verify"]
    assert shardgen_main(command) == 1
    assert shardgen_main([*command, "--allow-pickle"]) == 0
    assert load_index(tmp_path / "out").generator["options"]["dataset_options"] == {"allow_pickle": True}


@pytest.mark.parametrize("second", ["three fields", "plain numbers"])
def test_bullying10k_packets_of_different_layouts_name_the_file(tmp_path, second):
    """Packets are joined field by field when they share one structured layout; any other mix is
    an error naming the file, never a silent guess."""
    first = np.zeros(3, [("timestamp", "<i8"), ("x", "<i2"), ("y", "<i2"), ("polarity", "i1")])
    other = np.zeros(2, [("timestamp", "<i8"), ("x", "<i2"), ("y", "<i2")]) if second == "three fields" else np.zeros((2, 4))
    array = np.empty(2, dtype=object)
    array[0], array[1] = first, other
    (tmp_path / "raw" / "handshake" / "1").mkdir(parents=True)
    np.save(tmp_path / "raw" / "handshake" / "1" / "dvSave-0.npy", array, allow_pickle=True)
    with pytest.raises(ConversionError, match=r"dvSave-0\.npy.*(do not share one layout|need t, x, y, p)"):
        shardgen.convert("bullying10k", tmp_path / "raw", tmp_path / "out", progress=False, verify=False, allow_pickle=True)


def test_a_pickle_is_refused_where_none_is_expected(tmp_path):
    raw = tmp_path / "DVS-Lip" / "train" / "accused"
    raw.mkdir(parents=True)
    array = np.empty(2, dtype=object)
    array[0], array[1] = np.zeros(3), np.zeros(2)
    np.save(raw / "0.npy", array, allow_pickle=True)
    with pytest.raises(ConversionError, match=r"0\.npy.*object arrays are refused: loading them would unpickle"):
        shardgen.convert("dvslip", tmp_path, tmp_path / "out", progress=False)


def test_truncated_npz_names_the_file(tmp_path):
    root = writers.write_esimagenet(tmp_path / "raw")
    victim = next((root / "ES-imagenet-0.18" / "train" / "class2").glob("*.npz"))
    victim.write_bytes(victim.read_bytes()[:100])
    with pytest.raises(ConversionError, match=f"{victim.name}.*not a valid .npz"):
        shardgen.convert("esimagenet", root, tmp_path / "out", progress=False)


def test_md5_of_a_published_archive_is_checked(tmp_path):
    raw = writers.write_dvslip(tmp_path / "raw")
    with pytest.raises(RawInputError, match="DVS-Lip.zip: MD5 .* differs from the published 2dcb959255122d4cdeb6094ca282494b"):
        shardgen.convert("dvslip", raw, tmp_path / "out", progress=False)


def test_hardvs_list_entry_without_its_file(tmp_path):
    raw = writers.write_hardvs(tmp_path / "raw")
    (raw / "val_label.txt").write_text("action_007/dvSave-missing 6\n")
    with pytest.raises(RawInputError, match=r"val_label.txt line 1: sample 'action_007/dvSave-missing' not found"):
        shardgen.convert("hardvs", raw, tmp_path / "out", progress=False, verify=False)


@pytest.mark.parametrize(
    "name, archive, advice",
    [
        ("esimagenet", "ES-imagenet-0.18.part01.rar", "unrar x ES-imagenet-0.18.part01.rar"),
        ("shd", "shd_train.h5.zip", "unzip shd_train.h5.zip"),
    ],
)
def test_archives_that_must_be_extracted_say_how(tmp_path, name, archive, advice):
    (tmp_path / archive).write_bytes(b"not checked")
    with pytest.raises(RawInputError, match=advice):
        shardgen.convert(name, tmp_path, tmp_path / "out", progress=False, verify=False)


def test_nested_zips_say_to_extract_the_outer_one(tmp_path):
    writers.write_asldvs_archive(tmp_path)
    with pytest.raises(RawInputError, match="unzip ICCV2019_DVS_dataset.zip"):
        shardgen.convert("asldvs", tmp_path, tmp_path / "out", progress=False)
    writers.write_hardvs_archive(tmp_path / "hardvs")
    with pytest.raises(RawInputError, match="unzip MINI_HARDVS_files.zip"):
        shardgen.convert("hardvs", tmp_path / "hardvs", tmp_path / "out", progress=False, verify=False)


def test_non_integer_coordinates_are_an_error_not_a_silent_rounding(tmp_path):
    root = tmp_path / "pips_train" / "cl"
    root.mkdir(parents=True)
    np.save(root / "bad.npy", np.array([[1.0, 2.5, 3.0, 1.0]]))
    with pytest.raises(ConversionError, match=r"bad\.npy.*x coordinates are not whole numbers"):
        shardgen.convert("pokerdvs", tmp_path, tmp_path / "out", progress=False)


def test_every_adapter_lists_its_sources():
    for name in writers.WRITERS:
        adapter = get_dataset(name)
        assert adapter.resource_url_md5(), name
        assert isinstance(adapter.downloadable(), bool)


def test_heidelberg_file_without_spikes_names_it(tmp_path):
    import h5py

    with h5py.File(tmp_path / "shd_train.h5", "w") as h5:
        h5["labels"] = np.zeros(1, np.uint16)
        h5["extra/keys"] = np.array([b"zero"])
    with h5py.File(tmp_path / "shd_test.h5", "w") as h5:
        h5["labels"] = np.zeros(0, np.uint16)
    with pytest.raises(ConversionError, match=r"shd_train\.h5.*spikes/times"):
        shardgen.convert("shd", tmp_path, tmp_path / "out", progress=False)


@pytest.mark.parametrize("name", ["bullying10k", "shd"])
def test_two_workers_write_the_same_shards(tmp_path, name):
    raw = writers.WRITERS[name](tmp_path / "raw")
    options = {"allow_pickle": True} if name == "bullying10k" else {}
    for workers in (1, 2):
        shardgen.convert(
            name, raw, tmp_path / f"w{workers}", progress=False, verify=False, workers=workers, max_samples=3, **options
        )
    one, two = load_index(tmp_path / "w1"), load_index(tmp_path / "w2")
    assert [shard.sha256 for shard in one.shards] == [shard.sha256 for shard in two.shards]
