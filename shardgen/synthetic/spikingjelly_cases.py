"""The fixture datasets on which ``streams.datasets`` is compared with SpikingJelly 2.0's own classes.

Shared by ``scripts/references/make_spikingjelly_dataset_references.py`` (which runs SpikingJelly on these raw
trees) and ``tests/test_spikingjelly_datasets.py`` (which converts the same trees with shardgen and
reads them through ``streams.datasets``). Every raw tree comes from the deterministic writers of
``shardgen.synthetic`` (and, for N-MNIST, from the real recordings of the shared samples folder), so
both sides read byte-identical files.

A case names the SpikingJelly class, how each of our splits is asked for (SpikingJelly's
constructor argument), and the frame configurations to compare: ``frames_number`` (with both
``split_by`` values) and ``duration`` (in the dataset's own time unit, as SpikingJelly takes it).
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# The real recordings beside the checkout (as tests/conftest.py finds them), or NEUROSHARDS_SAMPLES.
SAMPLES = Path(os.environ.get("NEUROSHARDS_SAMPLES") or Path(__file__).resolve().parents[3] / "shared" / "samples")


def write_gesture(folder: Path) -> Path:
    from shardgen.synthetic import inivation as inivation_writers

    return inivation_writers.gesture_tree(folder, as_tar=False)


def write_cifar10dvs(folder: Path) -> Path:
    from shardgen.synthetic import inivation as inivation_writers

    return inivation_writers.cifar10dvs_tree(folder, as_zip=False)


def write_nmnist(folder: Path) -> Path:
    from shardgen.synthetic import write_synthetic_nmnist

    return write_synthetic_nmnist(folder, train_per_class=1, test_per_class=1, events_per_sample=300, seed=3)


def write_real_nmnist(folder: Path) -> Path:
    """The real N-MNIST recordings of ../shared/samples in N-MNIST's layout (Train|Test/<digit>/)."""
    with open(SAMPLES / "nmnist" / "labels.csv") as handle:
        for row in csv.DictReader(handle):
            target = folder / row["split"].capitalize() / row["label"]
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(SAMPLES / "nmnist" / row["file"], target / row["file"].replace(".bs2", ".bin"))
    return folder


def write_ncaltech101(folder: Path) -> Path:
    from shardgen.synthetic import write_synthetic_ncaltech101

    return write_synthetic_ncaltech101(folder, classes=3, per_class=2, events_per_sample=1500, seed=4)


def _containers(name: str) -> Callable[[Path], Path]:
    def write(folder: Path) -> Path:
        from shardgen.synthetic import containers as container_writers

        return container_writers.WRITERS[name](folder)

    write.__name__ = f"write_{name}"
    return write


def write_navgesture(folder: Path) -> Path:
    from .navgesture import write_navgesture_tree

    return write_navgesture_tree(folder)


@dataclass(frozen=True)
class Case:
    dataset: str  # shardgen convert name
    spikingjelly_class: str  # the class name, in spikingjelly.datasets and in streams.datasets
    write_raw: Callable[[Path], Path]  # writes the raw tree under a folder, returns what --raw takes
    splits: dict[str, dict[str, Any]]  # our split -> SpikingJelly's constructor argument for it
    frames_number: int
    duration: int
    convert_options: dict[str, Any] = field(default_factory=dict)
    needs_samples: bool = False  # reads the real recordings of ../shared/samples

    def configurations(self) -> dict[str, dict[str, Any]]:
        """Name -> SpikingJelly's keyword arguments."""
        return {
            "event": {"data_type": "event"},
            "number": {"data_type": "frame", "frames_number": self.frames_number, "split_by": "number"},
            "time": {"data_type": "frame", "frames_number": self.frames_number, "split_by": "time"},
            "duration": {"data_type": "frame", "duration": self.duration},
            "custom": {"data_type": "frame", "custom_integrate_function": column_profile},
        }


TRAIN_TEST = {"train": {"train": True}, "test": {"train": False}}
WHOLE = {"all": {}}

CASES = {
    name: case
    for name, case in [
        (case.dataset, case)
        for case in (
            Case("dvs128gesture", "DVS128Gesture", write_gesture, TRAIN_TEST, 4, 100_000),
            Case("cifar10dvs", "CIFAR10DVS", write_cifar10dvs, WHOLE, 4, 300_000),
            Case("nmnist", "NMNIST", write_nmnist, TRAIN_TEST, 4, 100_000),
            Case("ncaltech101", "NCaltech101", write_ncaltech101, WHOLE, 4, 100_000),
            Case("asldvs", "ASLDVS", _containers("asldvs"), WHOLE, 4, 50_000),
            Case("dvslip", "DVSLip", _containers("dvslip"), TRAIN_TEST, 4, 250_000),
            Case(
                "hardvs",
                "HARDVS",
                _containers("hardvs"),
                {s: {"train_test_val": s} for s in ("train", "val", "test")},
                4,
                700_000,
            ),
            Case(
                "bullying10k",
                "Bullying10kClassification",
                _containers("bullying10k"),
                TRAIN_TEST,
                3,
                10_000,
                {"allow_pickle": True},
            ),
            Case("esimagenet", "ESImageNet", _containers("esimagenet"), TRAIN_TEST, 3, 2),
            Case("shd", "SpikingHeidelbergDigits", _containers("shd"), TRAIN_TEST, 4, 300),
            Case(
                "ssc", "SpikingSpeechCommands", _containers("ssc"), {s: {"split": s} for s in ("train", "valid", "test")}, 4, 300
            ),
            Case("navgesture-walk", "NAVGestureWalk", write_navgesture, WHOLE, 3, 20_000),
        )
    ]
    + [("nmnist-real", Case("nmnist", "NMNIST", write_real_nmnist, TRAIN_TEST, 4, 100_000, needs_samples=True))]
}


def column_profile(events: dict, H: int, W: int) -> np.ndarray:
    """A custom integration (SpikingJelly's ``custom_integrate_function(events, H, W)``): one frame
    per polarity, counting events per column. It reads x and p in the dtypes the dataset gives."""
    x = np.asarray(events["x"]).astype(np.int64)
    p = np.asarray(events["p"]).astype(np.int64) != 0
    return np.stack([np.bincount(x[p == value], minlength=W) for value in (False, True)])[:, None, :]


def digest(value: Any) -> str:
    """sha256 over dtype, shape and bytes of an array, or of a dict's arrays in key order (a
    structured array counts as one array): equal digests mean equal values and dtypes."""
    hasher = hashlib.sha256()
    items = sorted(value.items()) if isinstance(value, dict) else [("", value)]
    for name, array in items:
        array = np.ascontiguousarray(array)
        hasher.update(f"{name}|{array.dtype.str}|{array.dtype.descr}|{array.shape}|".encode())
        hasher.update(array.tobytes())
    return hasher.hexdigest()


def loose_digest(data: Any) -> str:
    """Of events: sha256 of their values whatever their dtype, shape (0-D or 1-D) and order: each
    field as float64 (float16 seconds as the µs shardgen stores, ``floor(t * 1e6)``), rows sorted.
    Of frames ``[T, ...]``: of the events per frame and per pixel over all frames (which events a
    frame holds may differ where events at one time are ordered differently)."""
    if not isinstance(data, dict) and not np.asarray(data).dtype.names:
        frames = np.asarray(data, dtype=np.float64)
        return digest({"per_frame": frames.sum(axis=tuple(range(1, frames.ndim))), "per_pixel": frames.sum(axis=0)})
    events = data
    names = sorted(events.dtype.names if isinstance(events, np.ndarray) else events)
    columns = []
    for name in names:
        values = np.atleast_1d(np.asarray(events[name]))
        if values.dtype == np.float16:
            values = np.floor(values.astype(np.float64) * 1e6)
        columns.append(values.astype(np.float64))
    rows = np.stack(columns, axis=1)
    rows = rows[np.lexsort(rows.T[::-1])] if len(rows) else rows
    return hashlib.sha256(("|".join(names) + "|").encode() + rows.tobytes()).hexdigest()


def label_signature(label: Any) -> str:
    """A label's type and value: SpikingJelly gives Python ints (DatasetFolder) or NumPy scalars (SHD)."""
    kind = type(label).__name__
    return f"{kind}:{int(label)}"
