"""Reference outputs of SpikingJelly 2.0 on the iniVation test fixtures -> tests/references/inivation.json.

Run in an environment with spikingjelly 2.0.0 (the project's oracle env):

    .venv-oracle/bin/python scripts/references/make_inivation_references.py

It writes the fixtures with shardgen/synthetic/inivation.py (deterministic), runs SpikingJelly's own
conversion on them (CIFAR10DVS and DVS128Gesture: extract_downloaded_files,
create_raw_from_extracted, then the dataset classes; load_aedat_v3; _load_events with the DAVIS
masks; split_to_train_test_set; CIFAR10DVSTEBNSplit) and records, per sample, the key, label,
event count and a sha256 of the canonical arrays (t int64, x uint16, y uint16, p uint8).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
from shardgen.synthetic import inivation as writers  # noqa: E402

SAMPLES = Path(os.environ.get("NEUROSHARDS_SAMPLES") or ROOT.parent / "shared" / "samples")
OUT = ROOT / "tests" / "references" / "inivation.json"


def digest(events: dict) -> list:
    h = hashlib.sha256()
    for name, dtype in (("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "|u1")):
        h.update(np.ascontiguousarray(np.asarray(events[name]).astype(np.int64), dtype=dtype).tobytes())
    return [int(len(events["t"])), h.hexdigest()]


def file_digests(root: Path) -> dict:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def gesture_trials() -> dict:
    trials = dict(writers.GESTURE_TRIALS)
    real = SAMPLES / "dvs128_gesture" / "user01_natural_labels.csv"
    data = real.read_bytes()
    trials["user01_natural"] = ("train", writers.read_label_rows(data), data)
    return trials


def cifar10dvs(work: Path) -> dict:
    from spikingjelly.datasets import cifar10_dvs
    from spikingjelly.datasets.utils import split_to_train_test_set

    download, root = work / "download", work / "cifar"
    writers.cifar10dvs_tree(download)
    extracted = work / "cifar-extracted"
    writers.cifar10dvs_tree(extracted, as_zip=False)
    (root / "extract").mkdir(parents=True)
    cifar10_dvs.CIFAR10DVS.extract_downloaded_files(download, root / "extract")
    (root / "events_np").mkdir()
    cifar10_dvs.CIFAR10DVS.create_raw_from_extracted(root / "extract", root / "events_np")
    dataset = cifar10_dvs.CIFAR10DVS(str(root), data_type="event")
    samples = []
    for index, (path, label) in enumerate(dataset.samples):
        events, returned = dataset[index]
        assert returned == label
        samples.append([Path(path).stem, int(label), *digest(events)])
    keys = [sample[0] for sample in samples]
    result = {"fixture_files": file_digests(extracted), "samples": samples}
    for ratio in (0.5, 0.9):
        train, test = split_to_train_test_set(ratio, dataset, 10, random_split=False)
        result[f"split_{ratio}"] = {"train": [keys[i] for i in train.indices], "test": [keys[i] for i in test.indices]}
    tebn = {}
    for split in ("train", "test"):
        subset = cifar10_dvs.CIFAR10DVSTEBNSplit(str(root), train=split == "train", data_type="event")
        # Its folders link all 1000 numbers of each class; the fixture has a few of them.
        tebn[split] = [Path(path).stem for path, _label in subset.samples if os.path.exists(path)]
    result["tebn"] = tebn
    real = SAMPLES / "aedat2" / "mnist_0_scale04_0001.aedat"
    result["mnist_dvs_as_cifar10dvs"] = digest(cifar10_dvs._load_origin_data(real))
    davis_path = work / "davis240.aedat"
    davis_path.write_bytes(writers.davis_fixture())
    with open(davis_path, "rb") as stream:
        t, x, y, p = cifar10_dvs._load_events(stream, filter_dvs=True)
    result["davis240_filter_dvs"] = {
        "sha256": hashlib.sha256(davis_path.read_bytes()).hexdigest(),
        "events": digest({"t": t, "x": x, "y": y, "p": p.astype(np.uint8)}),
    }
    return result


def dvs128gesture(work: Path) -> dict:
    from spikingjelly.datasets import dvs128_gesture, utils

    root = work / "gesture"
    extract = root / "extract"
    writers.gesture_tree(extract, trials=gesture_trials(), as_tar=False)
    (root / "events_np").mkdir(parents=True)
    dvs128_gesture.DVS128Gesture.create_raw_from_extracted(extract, root / "events_np")
    result = {"fixture_files": file_digests(extract)}
    for split in ("train", "test"):
        dataset = dvs128_gesture.DVS128Gesture(str(root), train=split == "train", data_type="event")
        samples = []
        for index, (path, _label) in enumerate(dataset.samples):
            events, returned = dataset[index]
            folder = Path(path).parent.name
            trial, _, number = Path(path).stem.rpartition("_")
            samples.append([f"{trial}_{folder}_{number}", int(folder), int(returned), *digest(events)])
        result[split] = samples
    result["load_aedat_v3"] = {
        path.stem: digest(utils.load_aedat_v3(path)) for path in sorted((extract / "DvsGesture").glob("*.aedat"))
    }
    return result


def main() -> None:
    import spikingjelly

    with tempfile.TemporaryDirectory() as temporary:
        work = Path(temporary)
        reference = {
            "generator": f"scripts/references/make_inivation_references.py, spikingjelly {getattr(spikingjelly, '__version__', '2.0.0')}",
            "cifar10dvs": cifar10dvs(work),
            "dvs128gesture": dvs128gesture(work),
        }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(reference, indent=1) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
