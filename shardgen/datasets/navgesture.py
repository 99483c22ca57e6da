"""NAV Gesture walk and sit (Maro et al., 2020): ATIS ``td.dat`` recordings, one gesture each.

Layout as distributed: ``navgesture-walk.zip`` / ``navgesture-sit.zip`` hold one zip per user,
each holding ``<user>/<name>.dat`` files whose name's second ``_`` field is the gesture
(``le``, ``ri``, ``up``, ``do``, ``ho``, ``se``). ``--raw`` takes the folder of per-user zips
(read in place: unzip the outer archive once) or the folder they were extracted into.

Events as SpikingJelly 2.0 gives them (``nav_gesture._readATIS_tddat`` then ``y = 239 - y``):
ATIS address layout (x bits 0-8, y bits 9-16, polarity bit 17), an event whose timestamp is
below an earlier one is dropped, timestamps start at 0 at the first event, y flipped. Labels:
the gesture codes in sorted order (SpikingJelly's folder order), no split. One difference: for
every event its reader rejects, SpikingJelly's reader also loses one event from the end of the
recording (it stores events at their file position but keeps only as many leading positions as it
accepted), which we do not reproduce: our events are SpikingJelly's plus that lost tail.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neuroshards.events import Events

from ..formats import FormatError, concatenate, guarded
from ..formats.dat import DatReader
from .base import DatasetAdapter, FileTask, Plan, RawFile, RawInputError, key_from_path
from .registry import register

GESTURES = {"do": "down", "ho": "home", "le": "left", "ri": "right", "se": "select", "up": "up"}
ATIS_HEIGHT = 240


def drop_backward_events(t: np.ndarray) -> np.ndarray:
    """Mask of the events whose timestamp is not below any earlier one (SpikingJelly's intent)."""
    return t >= np.maximum.accumulate(t) if len(t) else np.ones(0, bool)


@guarded("navgesture dat")
def read_navgesture_td(file: RawFile) -> Events:
    with file.open() as stream:
        events = concatenate(DatReader(stream, source=file.location, layout="atis").chunks())
    keep = drop_backward_events(events["t"])
    events = {name: values[keep] for name, values in events.items()}
    if len(events["t"]):
        if events["y"].max() >= ATIS_HEIGHT:
            raise FormatError(file.location, None, f"y = {int(events['y'].max())} is beyond the {ATIS_HEIGHT}-row ATIS sensor")
        events["t"] = events["t"] - events["t"][0]
        events["y"] = (ATIS_HEIGHT - 1 - events["y"]).astype(np.uint16)
    return events


class NAVGesture(DatasetAdapter):
    # SpikingJelly's get_H_W: (240, 304); the sensor is 240 x 320 but x never exceeds 303.
    sensor_size = (304, 240, 2)
    homepage = "https://www.neuromorphic-vision.com/public/downloads/navgesture/"
    open_every_archive = True  # the per-user zips are read in place

    def plan(self, raw: str | Path) -> Plan:
        found = []
        for file in self.scan(raw):
            if not file.name.lower().endswith(".dat"):
                continue
            fields = file.name.rsplit(".", 1)[0].split("_")
            code = fields[1] if len(fields) > 1 else ""
            if code not in GESTURES:
                raise RawInputError(f"{file.location}: gesture code {code!r} is none of {sorted(GESTURES)}")
            found.append((code, file.name, file))
        if not found:
            outer = self.resources[0][0]
            raise self.missing(raw, f"<user>/*_<gesture>_*.dat (or the per-user zips inside {outer}: unzip {outer} once)")
        classes = sorted(GESTURES)
        found.sort(key=lambda item: (classes.index(item[0]), item[1]))
        tasks = [
            FileTask(file, key_from_path(name), classes.index(code), "all", read_navgesture_td) for code, name, file in found
        ]
        return Plan(classes=classes, tasks=tasks, extra={"gestures": GESTURES, "split_rule": "none (SpikingJelly gives one set)"})


@register
class NAVGestureWalk(NAVGesture):
    name = "navgesture-walk"
    title = "NAV Gesture (walk)"
    resources = (
        (
            "navgesture-walk.zip",
            "https://www.neuromorphic-vision.com/public/downloads/navgesture/navgesture-walk.zip",
            "5d305266f13005401959e819abe206f0",
        ),
    )


@register
class NAVGestureSit(NAVGesture):
    name = "navgesture-sit"
    title = "NAV Gesture (sit)"
    resources = (
        (
            "navgesture-sit.zip",
            "https://www.neuromorphic-vision.com/public/downloads/navgesture/navgesture-sit.zip",
            "1571753ace4d9e0946e6503313712c22",
        ),
    )
