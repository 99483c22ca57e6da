"""N-MNIST and N-Caltech101: ATIS 40-bit recordings in one folder per class (Orchard et al., 2015)."""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

from neuroshards.record import PackedEvents

from ..formats import guarded, pack_atis_bin
from .base import DatasetAdapter, FileTask, Plan, RawFile, class_folder_tasks, matching
from .registry import register

ORCHARD_URL = "https://www.garrickorchard.com/datasets"


@guarded("atis")
def read_atis_file(file: RawFile, sensor_size: tuple[int, int, int]) -> PackedEvents:
    """SpikingJelly's ``load_ATIS_bin``: records read verbatim, no overflow handling."""
    return pack_atis_bin(file.read_bytes(), sensor_size, source=file.location)


@register
class NMNIST(DatasetAdapter):
    name = "nmnist"
    title = "N-MNIST"
    sensor_size = (34, 34, 2)
    homepage = f"{ORCHARD_URL}/n-mnist"
    resources = (
        ("Train.zip", homepage, "20959b8e626244a1b502305a9e6e2031"),
        ("Test.zip", homepage, "69ca8762b2fe404d9b9bad1103e97832"),
    )
    _pattern = re.compile(r"(?:^|/)(Train|Test)/([0-9])/[^/]+\.bin$")

    def plan(self, raw: str | Path) -> Plan:
        read = partial(read_atis_file, sensor_size=self.sensor_size)
        tasks = [
            FileTask.from_path(file, relpath, int(match.group(2)), match.group(1).lower(), read)
            for match, relpath, file in matching(self.scan(raw), self._pattern)
        ]
        if not tasks:
            raise self.missing(raw, "Train/<digit>/*.bin or Test/<digit>/*.bin (or Train.zip, Test.zip)")
        return Plan(classes=[str(d) for d in range(10)], tasks=tasks)


@register
class NCaltech101(DatasetAdapter):
    name = "ncaltech101"
    title = "N-Caltech101"
    # SpikingJelly integrates N-Caltech101 on a 180 x 240 (H x W) grid.
    sensor_size = (240, 180, 2)
    homepage = f"{ORCHARD_URL}/n-caltech101"
    resources = (
        ("Caltech101.zip", homepage, "66201824eabb0239c7ab992480b50ba3"),
        ("Caltech101_annotations.zip", homepage, "25e64cea645291e368db1e70f214988e"),
        ("ReadMe(Caltech101)-SINAPSE-G.txt", homepage, "d464b81684e0af3b5773555eb1d5b95c"),
        ("ReadMe(Caltech101).txt", homepage, "33632a7a5c46074c70509f960d0dd5e5"),
    )
    _in_archive = re.compile(r"(?:^|/)Caltech101/([^/]+)/[^/]+\.bin$")
    _in_folder = re.compile(r"^([^/]+)/[^/]+\.bin$")

    def plan(self, raw: str | Path) -> Plan:
        files = self.scan(raw)
        found = []
        for file in files:
            match = self._in_archive.search(file.relpath)
            if match:
                found.append((match.group(1), file.relpath[match.start() :].lstrip("/").split("/", 1)[1], file))
        if not found:  # --raw points at the Caltech101 folder itself
            found = [(match.group(1), file.relpath, file) for file in files if (match := self._in_folder.search(file.relpath))]
        if not found:
            raise self.missing(raw, "Caltech101/<class>/*.bin (or Caltech101.zip)")
        # SpikingJelly's labels: class folders in sorted order (upper case first), files sorted.
        read = partial(read_atis_file, sensor_size=self.sensor_size)
        classes, tasks = class_folder_tasks([("all", cls, relpath, file) for cls, relpath, file in found], read)
        return Plan(classes=classes, tasks=tasks)
