"""CIFAR10-DVS (AEDAT 2.0, Li et al., 2017) and DVS128 Gesture (AEDAT 3.1, Amir et al., 2017),
converted exactly as SpikingJelly 2.0 converts them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuroshards.events import Events

from ..formats import FormatError, concatenate, guarded
from ..formats.aedat2 import Aedat2Reader
from ..formats.aedat3 import Aedat3Reader
from ..formats.errors import MAX_TIMESTAMP_US
from .base import DatasetAdapter, FileTask, Plan, RawFile, RawInputError, Sample, key_from_path, matching
from .registry import register

CIFAR10DVS_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# Files 0-99 of each class are the test set of the TEBN split (Duan et al., 2022); 100-999 train.
TEBN_TEST_BELOW = 100


def cifar10dvs_events(events: Events) -> Events:
    """SpikingJelly's CIFAR10-DVS convention on events read with the DVS128 layout:
    x = 127 - y_raw, y = 127 - x_raw, p = 1 - p_raw."""
    return {"t": events["t"], "x": 127 - events["y"], "y": 127 - events["x"], "p": 1 - events["p"]}


@guarded("cifar10dvs aedat2")
def read_cifar10dvs(file: RawFile) -> Events:
    with file.open() as stream:
        return cifar10dvs_events(concatenate(Aedat2Reader(stream, source=file.location, layout="dvs128").chunks()))


@register
class CIFAR10DVS(DatasetAdapter):
    name = "cifar10dvs"
    title = "CIFAR10-DVS"
    sensor_size = (128, 128, 2)
    homepage = "https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671"
    resources = tuple(
        (f"{name}.zip", f"https://ndownloader.figshare.com/files/{number}", md5)
        for name, number, md5 in (
            ("airplane", 7712788, "0afd5c4bf9ae06af762a77b180354fdd"),
            ("automobile", 7712791, "8438dfeba3bc970c94962d995b1b9bdd"),
            ("bird", 7712794, "a9c207c91c55b9dc2002dc21c684d785"),
            ("cat", 7712812, "52c63c677c2b15fa5146a8daf4d56687"),
            ("deer", 7712815, "b6bf21f6c04d21ba4e23fc3e36c8a4a3"),
            ("dog", 7712818, "f379ebdf6703d16e0a690782e62639c3"),
            ("frog", 7712842, "cad6ed91214b1c7388a5f6ee56d08803"),
            ("horse", 7712851, "e7cbbf77bec584ffbf913f00e682782a"),
            ("ship", 7712836, "41c7bd7d6b251be82557c6cce9a7d5c9"),
            ("truck", 7712839, "89f3922fd147d9aeff89e76a2b0b70a7"),
        )
    )
    can_download = True
    _pattern = re.compile(r"(?:^|/)(" + "|".join(CIFAR10DVS_CLASSES) + r")/([^/]+)\.aedat$")

    def plan(self, raw: str | Path) -> Plan:
        found = [
            (CIFAR10DVS_CLASSES.index(match.group(1)), key_from_path(match.group(2)), file)
            for match, _path, file in matching(self.scan(raw), self._pattern)
        ]
        if not found:
            raise self.missing(raw, "<class>/*.aedat (or airplane.zip, ..., truck.zip)")
        # SpikingJelly's order: class folders sorted (= label order), files sorted by name as strings.
        found.sort(key=lambda item: (item[0], item[1]))
        tasks = [FileTask(file, key, label, "all", read_cifar10dvs) for label, key, file in found]
        extra = {
            "spikingjelly_order": "label, then key as a string (SpikingJelly's file order)",
            "tebn_test_below": TEBN_TEST_BELOW,
            "splits_help": "streams.splits.spikingjelly_split(index, ratio) and streams.splits.tebn_split(index)",
        }
        return Plan(classes=list(CIFAR10DVS_CLASSES), tasks=tasks, extra=extra)


# SpikingJelly's DVS128Gesture is a torchvision DatasetFolder over folders named "0".."10", whose
# classes sort as strings: its label of folder "10" is 2, of "2" is 3, ... of "9" is 10.
GESTURE_CLASS_COUNT = 11
SPIKINGJELLY_GESTURE_LABELS = tuple(
    sorted(str(label) for label in range(GESTURE_CLASS_COUNT)).index(str(label)) for label in range(GESTURE_CLASS_COUNT)
)


def spikingjelly_gesture_label(label: int) -> int:
    """The label SpikingJelly's ``DVS128Gesture`` returns for a sample of our (csv class - 1) ``label``."""
    return SPIKINGJELLY_GESTURE_LABELS[label]


def _csv_body(file: RawFile) -> Iterator[tuple[int, list[str]]]:
    """(line number, row) of a small CSV file's rows after its header line."""
    text = file.read_bytes().decode("utf-8", errors="replace")
    reader = csv.reader(io.StringIO(text))
    number = 0
    try:
        for number, row in enumerate(reader, start=1):
            if number > 1:
                yield number, row
    except csv.Error as error:
        raise FormatError(file.location, None, f"line {number + 1}: not CSV ({error})") from None


@guarded("dvs128gesture labels csv")
def read_label_rows(file: RawFile) -> np.ndarray:
    """``class,startTime_usec,endTime_usec`` rows (after the header line) as an int64 array [n, 3]."""
    rows = []
    for number, row in _csv_body(file):
        if not row or not "".join(row).strip():
            continue
        try:
            values = [int(value) for value in row]
        except ValueError:
            values = []
        if len(values) != 3 or not 1 <= values[0] <= GESTURE_CLASS_COUNT or min(values) < 0 or max(values) >= MAX_TIMESTAMP_US:
            raise FormatError(
                file.location,
                None,
                f"line {number} is not 'class,startTime_usec,endTime_usec' with class 1..11 and times 0..2**62: {row}",
            )
        rows.append(values)
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


@dataclass(frozen=True)
class GestureTrialTask:
    """One recording of DVS128 Gesture and its labels file -> one sample per label row."""

    recording: RawFile
    labels: RawFile
    trial: str
    split: str

    @property
    def source(self) -> str:
        return self.recording.location

    @guarded("dvs128gesture")
    def run(self) -> Iterator[Sample]:
        rows = read_label_rows(self.labels)
        with self.recording.open() as stream:
            packets = Aedat3Reader(stream, source=self.recording.location).whole()
        windows = packets.windows(rows[:, 1], rows[:, 2], DVS128Gesture.sensor_size)
        per_label = [0] * GESTURE_CLASS_COUNT
        for (csv_class, _start, _end), events in zip(rows, windows):
            label = int(csv_class) - 1
            yield Sample(f"{self.trial}_{label}_{per_label[label]}", label, self.split, events)
            per_label[label] += 1


def read_gesture_mapping(file: RawFile) -> list[str]:
    """Class names by label from ``gesture_mapping.csv`` (``action,label`` rows, labels 1..11)."""
    names: dict[int, str] = {}
    for number, row in _csv_body(file):
        if len(row) < 2:
            continue
        try:
            names[int(row[1]) - 1] = row[0].strip()
        except ValueError:
            raise RawInputError(f"{file.location}: line {number} is not 'action,label': {row}") from None
    if sorted(names) != list(range(GESTURE_CLASS_COUNT)):
        raise RawInputError(f"{file.location}: expected labels 1..{GESTURE_CLASS_COUNT}, got {sorted(k + 1 for k in names)}")
    return [names[label] for label in range(GESTURE_CLASS_COUNT)]


@register
class DVS128Gesture(DatasetAdapter):
    name = "dvs128gesture"
    title = "DVS128 Gesture"
    sensor_size = (128, 128, 2)
    homepage = "https://research.ibm.com/interactive/dvsgesture/"
    _box = "https://ibm.ent.box.com/s/3hiq58ww1pbbjrinh367ykfdf60xsfm8/folder/50167556794"
    resources = (
        ("DvsGesture.tar.gz", _box, "8a5c71fb11e24e5ca5b11866ca6c00a1"),
        ("gesture_mapping.csv", _box, "109b2ae64a0e1f3ef535b18ad7367fd1"),
        ("LICENSE.txt", _box, "065e10099753156f18f51941e6e44b66"),
        ("README.txt", _box, "a0663d3b1d8307c329a43d949ee32d19"),
    )

    def plan(self, raw: str | Path) -> Plan:
        files = self.scan(raw)
        by_path = {file.relpath: file for file in files}
        mapping = [file for file in files if file.name == "gesture_mapping.csv"]
        if not mapping:
            raise self.missing(raw, "gesture_mapping.csv")
        tasks: list[GestureTrialTask] = []
        for split in ("train", "test"):
            lists = [file for file in files if file.name == f"trials_to_{split}.txt"]
            if not lists:
                raise self.missing(raw, f"trials_to_{split}.txt (in DvsGesture.tar.gz or the DvsGesture folder)")
            folder = lists[0].relpath.rpartition("/")[0]
            prefix = f"{folder}/" if folder else ""
            for line in lists[0].read_bytes().decode().splitlines():
                name = line.strip()
                if not name:
                    continue
                trial = name.rsplit(".", 1)[0]
                recording = by_path.get(prefix + name)
                labels = by_path.get(f"{prefix}{trial}_labels.csv")
                if recording is None or labels is None:
                    raise RawInputError(f"{lists[0].location}: lists {name}, but {prefix}{name} or its _labels.csv is missing")
                tasks.append(GestureTrialTask(recording, labels, key_from_path(trial), split))
        extra = {
            "label_rule": "csv class - 1",
            "spikingjelly_labels": list(SPIKINGJELLY_GESTURE_LABELS),
            "spikingjelly_labels_help": "SpikingJelly's DVS128Gesture returns spikingjelly_labels[label] "
            "(its class folders sort as strings); shardgen.datasets.inivation_datasets.spikingjelly_gesture_label",
        }
        return Plan(classes=read_gesture_mapping(mapping[0]), tasks=tasks, extra=extra)
