"""NAV Gesture walk/sit against SpikingJelly 2.0's own conversion of the same td.dat fixtures
(tests/references/navgesture_spikingjelly.npz, written by scripts/references/navgesture_references.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from shardgen import convert
from shardgen.datasets import get_dataset
from shardgen.synthetic.navgesture import write_navgesture_tree
from streams import EventStream

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "references" / "navgesture_spikingjelly.npz"


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory) -> Path:
    """The NAV Gesture recordings SpikingJelly read for the reference (deterministic bytes)."""
    return write_navgesture_tree(tmp_path_factory.mktemp("navgesture") / "raw")


def spikingjelly_samples() -> dict[str, tuple[int, dict, int]]:
    reference = np.load(REFERENCE)
    bounds = np.concatenate(([0], np.cumsum(reference["counts"])))
    return {
        str(key): (int(label), {k: reference[k][bounds[i] : bounds[i + 1]] for k in "txyp"}, int(removed))
        for i, (key, label, removed) in enumerate(zip(reference["keys"], reference["labels"], reference["removed"]))
    }


def raw_atis_events(path: Path) -> dict[str, np.ndarray]:
    """Straight decode of a fixture (test-side): skip '%' lines and the type/size bytes, 8-byte records."""
    data = path.read_bytes()
    start = 0
    while data[start : start + 1] == b"%":
        start = data.index(b"\n", start) + 1
    start += 2 if start else 0
    word = np.frombuffer(data[start:], "<u8")
    return {"t": (word & 0xFFFFFFFF).astype(np.int64), "x": (word >> 32) & 0x1FF, "y": (word >> 41) & 0xFF, "p": (word >> 49) & 1}


@pytest.fixture(scope="module", params=["folder", "per-user zips"])
def converted(request, tmp_path_factory, fixtures):
    tmp = tmp_path_factory.mktemp("nav")
    raw = fixtures
    if request.param == "per-user zips":  # as navgesture-walk.zip holds them: <user>.zip with <user>/<files>
        raw = tmp / "raw"
        raw.mkdir()
        for user in sorted(fixtures.iterdir()):
            with zipfile.ZipFile(raw / f"{user.name}.zip", "w") as archive:
                for file in sorted(user.iterdir()):
                    archive.write(file, f"{user.name}/{file.name}")
    convert("navgesture-walk", raw, tmp / "out", progress=False)
    return EventStream(tmp / "out")


def test_keys_labels_and_classes_match_spikingjelly(converted):
    reference = np.load(REFERENCE)
    assert converted.classes == [str(c) for c in reference["classes"]]
    ours = [(sample["__key__"], sample["label"]) for sample in converted]
    assert ours == [(str(k), int(label)) for k, label in zip(reference["keys"], reference["labels"])]
    assert converted.sensor_size == (304, 240, 2)


def test_events_match_spikingjelly_except_its_lost_tail(converted, fixtures):
    expected = spikingjelly_samples()
    for sample in converted:
        _label, theirs, removed = expected[sample["__key__"]]
        ours = sample["events"]
        if removed == 0:
            for k in "txyp":
                np.testing.assert_array_equal(ours[k], theirs[k], err_msg=f"{sample['__key__']} {k}")
            continue
        # SpikingJelly rejected events, so it lost as many from the end: its events are a prefix
        # of ours, and ours go on with the file's last events that are not below an earlier one.
        n = len(theirs["t"])
        assert len(ours["t"]) >= n
        for k in "txyp":
            np.testing.assert_array_equal(ours[k][:n], theirs[k], err_msg=f"{sample['__key__']} {k}")
        raw = raw_atis_events(next(fixtures.rglob(sample["__key__"] + ".dat")))
        kept = raw["t"] >= np.maximum.accumulate(raw["t"])
        assert len(ours["t"]) == kept.sum()
        np.testing.assert_array_equal(ours["t"], raw["t"][kept] - raw["t"][0])
        np.testing.assert_array_equal(ours["y"], 239 - raw["y"][kept])


def test_sit_shares_the_reader_and_resources_are_spikingjelly_s():
    walk, sit = get_dataset("navgesture-walk"), get_dataset("navgesture-sit")
    assert walk.resource_url_md5()[0][2] == "5d305266f13005401959e819abe206f0"
    assert sit.resource_url_md5()[0] == (
        "navgesture-sit.zip",
        "https://www.neuromorphic-vision.com/public/downloads/navgesture/navgesture-sit.zip",
        "1571753ace4d9e0946e6503313712c22",
    )
    assert not walk.downloadable() and not sit.downloadable()
    assert walk.sensor_size == sit.sensor_size == (304, 240, 2)
