"""Augmentations that event-vision papers train with, beyond Tonic's set, on events (not frames).

* ``EventDrop`` (Gu et al. 2021, "EventDrop: Data Augmentation for Event-based Learning", IJCAI):
  one of identity, drop by time, drop by area, drop at random, with the paper's ratios; the same
  rule as Tonic 1.7's ``EventDrop``.
* NDA's geometric set (Li et al. 2022, "Neuromorphic Data Augmentation for Training Spiking Neural
  Networks", ECCV): ``Roll``, ``Rotate``, ``Shear``, ``Cutout``, and ``NDA``, its policy of one of
  roll, rotate and shear per sample. NDA applies them to frames; here they move the events, so any
  representation follows. Defaults are NDA's CIFAR10-DVS settings (on its 48x48 frames: roll up to
  5 pixels, rotation and x-shear up to 30 degrees; the cutout square a third of the side).

Each is called like the Tonic transforms: ``transform(events, *, rng=None, sensor_size=None)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..functional import events as kernels
from ..functional import geometry
from . import _events as E
from .events import EventTransform


@dataclass(frozen=True)
class EventDrop(EventTransform):
    """EventDrop (Gu et al. 2021): with equal chance, the events unchanged, dropped in a random
    time interval (ratio k/10, k in 1..9), in a random box (ratio k/20, k in 1..5) or at random
    (ratio k/10, k in 1..9); Tonic 1.7's ``EventDrop`` draws the same way."""

    sensor_size: tuple | None = None

    def __call__(self, events, *, rng=None, sensor_size=None):
        rng = E.default_rng(rng)
        choice = rng.integers(0, 4)
        if choice == 0 or E.count(events) == 0:
            return events
        if choice == 1:
            return E.select(events, kernels.drop_by_time_mask(E.column(events, "t"), rng.integers(1, 10) / 10.0, rng))
        if choice == 2:
            sensor = E.resolve_sensor_size(self.sensor_size, sensor_size, "EventDrop")
            ratio = rng.integers(1, 6) / 20.0
            return E.select(events, kernels.drop_by_area_mask(E.column(events, "x"), E.column(events, "y"), sensor, ratio, rng))
        return E.select(events, kernels.drop_event_mask(E.count(events), rng.integers(1, 10) / 10.0, rng))


def _max_pixels(ratio: float, size: int) -> int:
    return int(round(ratio * size))


@dataclass(frozen=True)
class Roll(EventTransform):
    """NDA's roll (Li et al. 2022): shift x and y by integers drawn uniformly from
    ±``max_shift`` x the sensor's width and height, wrapping around the sensor as ``torch.roll``
    does. Default 5/48: NDA's ±5 pixels on 48x48 CIFAR10-DVS frames."""

    max_shift: float = 5 / 48
    sensor_size: tuple | None = None

    def __call__(self, events, *, rng=None, sensor_size=None):
        width, height = E.resolve_sensor_size(self.sensor_size, sensor_size, "Roll")[:2]
        rng = E.default_rng(rng)
        limit_x, limit_y = _max_pixels(self.max_shift, width), _max_pixels(self.max_shift, height)
        dx, dy = rng.integers(-limit_x, limit_x + 1), rng.integers(-limit_y, limit_y + 1)
        x, y = geometry.roll(E.column(events, "x"), E.column(events, "y"), dx, dy, width, height)
        return E.assign(events, x=x, y=y)


def _affine(events, matrix: np.ndarray, sensor_size) -> E.Events:
    width, height = sensor_size[:2]
    x, y, inside = geometry.affine(E.column(events, "x"), E.column(events, "y"), matrix, width, height)
    return E.select(E.assign(events, x=x, y=y), inside)


@dataclass(frozen=True)
class Rotate(EventTransform):
    """NDA's rotation (Li et al. 2022): rotate about the sensor's centre by an angle uniform in
    ±``degrees`` (torchvision's ``RandomRotation``), to the nearest pixel; events rotated off the
    sensor are dropped."""

    degrees: float = 30.0
    sensor_size: tuple | None = None

    def __call__(self, events, *, rng=None, sensor_size=None):
        sensor = E.resolve_sensor_size(self.sensor_size, sensor_size, "Rotate")
        angle = E.default_rng(rng).uniform(-self.degrees, self.degrees)
        return _affine(events, geometry.rotation_matrix(angle), sensor)


@dataclass(frozen=True)
class Shear(EventTransform):
    """NDA's shear (Li et al. 2022): shear parallel to x about the sensor's centre by an angle
    uniform in ±``degrees`` (torchvision's ``RandomAffine(degrees=0, shear=(-d, d))``), to the
    nearest pixel; events sheared off the sensor are dropped."""

    degrees: float = 30.0
    sensor_size: tuple | None = None

    def __call__(self, events, *, rng=None, sensor_size=None):
        sensor = E.resolve_sensor_size(self.sensor_size, sensor_size, "Shear")
        angle = E.default_rng(rng).uniform(-self.degrees, self.degrees)
        return _affine(events, geometry.shear_matrix(angle), sensor)


@dataclass(frozen=True)
class Cutout(EventTransform):
    """Cutout as NDA uses it (Li et al. 2022; DeVries and Taylor 2017): drop the events in a square
    of side ``length`` x the sensor's shorter side, centred on a uniformly drawn pixel and clipped
    to the sensor. Default 1/3: NDA's 16 pixels on 48x48 frames."""

    length: float = 1 / 3
    sensor_size: tuple | None = None

    def __call__(self, events, *, rng=None, sensor_size=None):
        width, height = E.resolve_sensor_size(self.sensor_size, sensor_size, "Cutout")[:2]
        rng = E.default_rng(rng)
        centre_y, centre_x = rng.integers(height), rng.integers(width)
        box = geometry.cutout_box(centre_x, centre_y, _max_pixels(self.length, min(width, height)), width, height)
        return E.select(events, ~geometry.box_mask(E.column(events, "x"), E.column(events, "y"), *box))


@dataclass(frozen=True)
class NDA(EventTransform):
    """NDA's policy (Li et al. 2022): per sample, one of ``augmentations`` chosen uniformly
    (default: roll, rotate and shear at NDA's CIFAR10-DVS magnitudes)."""

    augmentations: tuple = field(default_factory=lambda: (Roll(), Rotate(), Shear()))

    def __call__(self, events, *, rng=None, sensor_size=None):
        rng = E.default_rng(rng)
        chosen = self.augmentations[rng.integers(len(self.augmentations))]
        return E.call(chosen, events, rng, sensor_size)
