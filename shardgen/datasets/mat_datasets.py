"""ASL-DVS: one MATLAB ``.mat`` file per recording (ts, x, y, pol) in one folder per letter."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from neuroshards.events import Events

from ..formats import FormatError, guarded
from ..formats.columns import canonical_events
from ..formats.containers import load_mat
from .base import DatasetAdapter, Plan, RawFile, RawInputError, class_folder_tasks, matching
from .registry import register

ASL_DVS_SENSOR = (240, 180, 2)


@guarded("asldvs mat")
def read_asl_dvs_mat(file: RawFile) -> Events:
    """SpikingJelly's reading: t = ts, x = 239 - x, y = 179 - y, p = pol."""
    variables = load_mat(file.read_bytes(), source=file.location, names=("ts", "x", "y", "pol"))
    columns = {"t": variables["ts"], "x": variables["x"], "y": variables["y"], "p": variables["pol"]}
    events = canonical_events(columns, time_unit="us", source=file.location, where="ts, x, y, pol")
    for name, size in (("x", ASL_DVS_SENSOR[0]), ("y", ASL_DVS_SENSOR[1])):
        if len(events[name]) and events[name].max() >= size:
            raise FormatError(file.location, None, f"{name} = {int(events[name].max())} is beyond the {size}-pixel sensor")
        events[name] = (size - 1 - events[name]).astype(np.uint16)
    return events


@register
class ASLDVS(DatasetAdapter):
    name = "asldvs"
    title = "ASL-DVS"
    sensor_size = ASL_DVS_SENSOR
    homepage = "https://github.com/PIX2NVS/NVS2Graph"
    open_every_archive = True  # the letter zips inside ICCV2019_DVS_dataset.zip
    resources = (
        # SpikingJelly publishes no MD5 (Dropbox repacks the zip); Tonic's is for the OpenI mirror's ASLDVS.zip.
        ("ICCV2019_DVS_dataset.zip", "https://www.dropbox.com/sh/ibq0jsicatn7l6r/AACNrNELV56rs1YInMWUs9CAa?dl=0", None),
        ("ASLDVS.zip", "https://openi.pcl.ac.cn/OpenI/ASLDVS", "33f8b87bf45edc0bfed0de41822279b9"),
    )
    _pattern = re.compile(r"(?:^|/)([a-z])/[^/]+\.mat$")

    def plan(self, raw: str | Path) -> Plan:
        files = self.scan(raw)
        found = [("all", match.group(1), relpath, file) for match, relpath, file in matching(files, self._pattern)]
        if not found:
            if any(Path(file.disk_path).name in ("ICCV2019_DVS_dataset.zip", "ASLDVS.zip") for file in files):
                raise RawInputError(
                    f"{raw}: the archive holds one zip per letter; extract it once (unzip ICCV2019_DVS_dataset.zip; "
                    "for ASLDVS.zip first unzip ASLDVS.zip) and pass the folder: the letter zips are read in place"
                )
            raise self.missing(raw, "<letter>/*.mat or the letter zips")
        # SpikingJelly: a DatasetFolder over the letter folders (no j, z).
        classes, tasks = class_folder_tasks(found, read_asl_dvs_mat)
        return Plan(
            classes=classes,
            tasks=tasks,
            extra={"label_rule": "index of the letter folder in sorted order (SpikingJelly); no official split"},
        )
