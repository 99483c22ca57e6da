"""Tonic 1.7's event transforms under Tonic's names and arguments.

Each is a small dataclass called ``transform(events, *, rng=None, sensor_size=None)`` on a Tonic
structured array (fields t, x, y, p) or on our decoded ``{"t","x","y","p"}`` dict, returning the
same kind. Deterministic transforms give Tonic's values; random ones draw from Tonic's
distributions with ``rng`` (a fresh generator per call when None, so repeated calls vary as
Tonic's do; a stream passes ``streams.stages.sample_rng(seed, sample)`` so a resumed run repeats
its draws). ``sensor_size`` set on a transform wins; otherwise the call's (a stream passes each
sample's) is used. ``output_sensor_size(sensor_size)`` says what a transform makes of the sensor.

Where Tonic's rule looks odd it is kept by default and a corrected rule is offered
(``tonic_rule=False``, ``memory_of_time_zero=False``); where Tonic raises or corrupts the result,
the docstring says what these return instead. The numeric work is in
``streams.functional.events`` and ``streams.functional.event_downsampling``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.lib import recfunctions

from ..functional import event_downsampling as downsampling
from ..functional import events as kernels
from ..functional import geometry
from . import _events as E
from ._events import Events, SensorSize


def _draw(value: Any, rng: np.random.Generator) -> Any:
    """Tonic's parameter ranges: a (low, high) pair draws ``(high - low) * U[0, 1) + low``."""
    if isinstance(value, (tuple, list)):
        low, high = value
        return (high - low) * rng.random() + low
    return value


def _check_ratio(name: str, value: Any) -> None:
    values = value if isinstance(value, (tuple, list)) else (value,)
    if len(values) not in (1, 2) or not all(0 <= v < 1 for v in values):
        raise ValueError(f"{name} must be a float in [0, 1) or a pair of them, got {value!r}")


class EventTransform:
    """Base of the transforms: events in, same kind out; ``rng`` and ``sensor_size`` by keyword."""

    def __call__(
        self, events: Events, *, rng: np.random.Generator | None = None, sensor_size: SensorSize | None = None
    ) -> Events:
        raise NotImplementedError

    def output_sensor_size(self, sensor_size: SensorSize | None) -> SensorSize | None:
        return sensor_size


@dataclass
class Compose(EventTransform):
    """Apply ``transforms`` in turn, stopping once no events are left (as Tonic's Compose).

    Our transforms get the same ``rng`` and the sensor size as left by the previous ones (after a
    crop, the crop's size); any other callable (a Tonic transform, a function) gets the events only.
    """

    transforms: Sequence[Callable]

    def __call__(self, events, *, rng=None, sensor_size=None):
        rng = E.default_rng(rng)
        for transform in self.transforms:
            if E.count(events) == 0:
                break
            events = E.call(transform, events, rng, sensor_size)
            sensor_size = E.output_sensor_size(transform, sensor_size)
        return events

    def output_sensor_size(self, sensor_size):
        for transform in self.transforms:
            sensor_size = E.output_sensor_size(transform, sensor_size)
        return sensor_size


def _crop(events: Events, x0: int, y0: int, width: int, height: int, shift_x: int, shift_y: int) -> Events:
    kept = E.select(events, geometry.box_mask(E.column(events, "x"), E.column(events, "y"), x0, y0, x0 + width, y0 + height))
    # The selection is already a new container: shifted in place, not copied again.
    E.store(kept, "x", np.subtract(E.column(kept, "x"), shift_x, dtype=np.int64))
    E.store(kept, "y", np.subtract(E.column(kept, "y"), shift_y, dtype=np.int64))
    return kept


@dataclass
class CenterCrop(EventTransform):
    """Keep the events in a centred ``size`` box (int, or (width, height) as Tonic reads it) and
    move them to its origin. A box larger than the sensor pads: events keep their place relative
    to the centre, and, as Tonic does, every event inside ``[0, size)`` after the shift is kept."""

    sensor_size: SensorSize | None = None
    size: int | tuple[int, int] | None = None

    def __post_init__(self):
        if self.size is None:
            raise ValueError("CenterCrop needs size=")

    def _size(self) -> tuple[int, int]:
        return (self.size, self.size) if isinstance(self.size, int) else tuple(self.size)

    def __call__(self, events, *, rng=None, sensor_size=None):
        sensor = E.resolve_sensor_size(self.sensor_size, sensor_size, "CenterCrop")
        width, height = self._size()
        offsets = ((sensor[0] - width) // 2, (sensor[1] - height) // 2)
        return _crop(events, max(offsets[0], 0), max(offsets[1], 0), width, height, *offsets)

    def output_sensor_size(self, sensor_size):
        if sensor_size is None and self.sensor_size is None:
            return None
        sensor = self.sensor_size if self.sensor_size is not None else sensor_size
        return (*self._size(), *tuple(sensor)[2:])


@dataclass
class RandomCrop(EventTransform):
    """Keep the events in a ``target_size`` (width, height) box at a uniformly drawn place, moved
    to its origin. Tonic asserts the box fits; a box larger than the sensor is placed at 0 here."""

    sensor_size: SensorSize | None = None
    target_size: tuple[int, int] | None = None

    def __post_init__(self):
        if self.target_size is None:
            raise ValueError("RandomCrop needs target_size=")

    def __call__(self, events, *, rng=None, sensor_size=None):
        sensor = E.resolve_sensor_size(self.sensor_size, sensor_size, "RandomCrop")
        rng = E.default_rng(rng)
        width, height = self.target_size
        x0 = int(rng.random() * max(sensor[0] - width, 0))
        y0 = int(rng.random() * max(sensor[1] - height, 0))
        return _crop(events, x0, y0, width, height, x0, y0)

    def output_sensor_size(self, sensor_size):
        sensor = self.sensor_size if self.sensor_size is not None else sensor_size
        return None if sensor is None else (*self.target_size, *tuple(sensor)[2:])


@dataclass
class CropTime(EventTransform):
    """Keep the events with ``min <= t <= max`` (max: the events' latest t when None).

    Tonic stores the first call's latest t as ``max`` and applies it to every later sample; here
    None means each call's own latest t. No events: none (Tonic raises)."""

    min: float = 0
    max: float | None = None

    def __call__(self, events, *, rng=None, sensor_size=None):
        t = E.column(events, "t")
        if len(t) == 0:
            return events
        t = np.ascontiguousarray(t)  # read twice or three times: contiguous after the first
        upper = t.max() if self.max is None else self.max
        kept = t >= self.min
        kept &= t <= upper
        return E.select(events, kept)


@dataclass(frozen=True)
class Denoise(EventTransform):
    """Drop events with no event at a 4-neighbour pixel within ``filter_time`` before them
    (``streams.functional.events.denoise_mask``: Tonic's rule, its memory of t = 0 by default)."""

    filter_time: float
    memory_of_time_zero: bool = True

    def __call__(self, events, *, rng=None, sensor_size=None):
        mask = kernels.denoise_mask(
            E.column(events, "x"), E.column(events, "y"), E.column(events, "t"), self.filter_time, self.memory_of_time_zero
        )
        return E.select(events, mask)


@dataclass(frozen=True)
class Decimation(EventTransform):
    """Keep every ``n``-th event of each pixel. Tonic returns a plain float array (no fields) when
    no event is kept; these return no events of the input's kind."""

    n: int

    def __call__(self, events, *, rng=None, sensor_size=None):
        y = E.column(events, "y") if E.has(events, "y") else None
        return E.select(events, kernels.decimation_mask(E.column(events, "x"), y, self.n))


@dataclass(frozen=True)
class DropEvent(EventTransform):
    """Drop ``int(p * n + 0.5)`` events chosen uniformly without replacement; ``p`` may be a
    (low, high) range drawn per call."""

    p: float | tuple[float, float]

    def __post_init__(self):
        values = self.p if isinstance(self.p, (tuple, list)) else (self.p,)
        if not all(0 <= v <= 1 for v in values):
            raise ValueError(f"DropEvent needs p in [0, 1], got {self.p!r}")

    def __call__(self, events, *, rng=None, sensor_size=None):
        rng = E.default_rng(rng)
        probability = _draw(self.p, rng)
        n = E.count(events)
        return E.select(events, kernels.drop_event_mask(n, probability, rng))


@dataclass(frozen=True)
class DropEventByTime(EventTransform):
    """Drop the events in a random time interval of ``duration_ratio`` x the latest t (Tonic's
    interval starts at 0, not at the first event); a (low, high) ratio is drawn per call."""

    duration_ratio: float | tuple[float, float] = 0.2

    def __post_init__(self):
        _check_ratio("duration_ratio", self.duration_ratio)

    def __call__(self, events, *, rng=None, sensor_size=None):
        rng = E.default_rng(rng)
        t = E.column(events, "t")
        if len(t) == 0:
            return events
        ratio = rng.uniform(*self.duration_ratio) if isinstance(self.duration_ratio, (tuple, list)) else self.duration_ratio
        return E.select(events, kernels.drop_by_time_mask(t, ratio, rng))


@dataclass(frozen=True)
class DropEventByArea(EventTransform):
    """Drop the events in a random box of ``area_ratio`` x the sensor's width and height.

    Tonic draws a (low, high) ratio as ``uniform(low and high)``, i.e. from [high, 1) (from
    [0, 1) when low is 0), not from [low, high) as documented; ``tonic_rule=True`` (default) keeps
    that draw, ``tonic_rule=False`` draws from [low, high). Without a sensor size, Tonic's: the
    events' extent."""

    sensor_size: SensorSize | None = None
    area_ratio: float | tuple[float, float] = 0.2
    tonic_rule: bool = True

    def __post_init__(self):
        _check_ratio("area_ratio", self.area_ratio)

    def __call__(self, events, *, rng=None, sensor_size=None):
        rng = E.default_rng(rng)
        x, y = E.column(events, "x"), E.column(events, "y")
        sensor = self.sensor_size if self.sensor_size else sensor_size
        if not sensor:
            if len(x) == 0:
                return events
            sensor = (int(x.max() + 1), int(y.max() + 1))
        ratio = self.area_ratio
        if isinstance(ratio, (tuple, list)):
            ratio = rng.uniform(ratio[0] and ratio[1]) if self.tonic_rule else rng.uniform(*ratio)
        return E.select(events, kernels.drop_by_area_mask(x, y, sensor, ratio, rng))


@dataclass(frozen=True)
class DropPixel(EventTransform):
    """Drop every event of the pixels ``coordinates`` ([(x, y), ...]), or of the pixels firing
    above ``hot_pixel_frequency`` Hz (t in µs) over the recording. Neither given: the events
    unchanged (Tonic raises)."""

    coordinates: Sequence[tuple[int, int]] | None = None
    hot_pixel_frequency: float | None = None

    def __call__(self, events, *, rng=None, sensor_size=None):
        if E.count(events) == 0:
            return events
        x, y = E.column(events, "x"), E.column(events, "y")
        coordinates = self.coordinates
        if self.hot_pixel_frequency:
            coordinates = kernels.hot_pixels(x, y, E.column(events, "t"), self.hot_pixel_frequency)
        if coordinates is None:
            return events
        return E.select(events, ~kernels.pixel_mask(x, y, coordinates))


@dataclass(frozen=True)
class Downsample(EventTransform):
    """Multiply t by ``time_factor`` and x, y by ``spatial_factor`` (or by ``target_size`` /
    sensor size); values stored back into each field's dtype (truncated) as Tonic does. No event
    is dropped. The output sensor is ``target_size``, or the sensor scaled and rounded up."""

    time_factor: float = 1
    spatial_factor: float | tuple[float, float] = 1
    sensor_size: SensorSize | None = None
    target_size: tuple[int, int] | None = None

    def _spatial_factor(self, sensor_size):
        if self.target_size is not None:
            sensor = E.resolve_sensor_size(self.sensor_size, sensor_size, "Downsample(target_size=...)")
            return np.asarray(self.target_size) / sensor[:-1]
        factor = self.spatial_factor
        return factor if isinstance(factor, tuple) else (factor, factor)

    def __call__(self, events, *, rng=None, sensor_size=None):
        factor = self._spatial_factor(sensor_size)
        out = E.copy(events)
        # Column by column from the fresh copy (still in cache), each stored as soon as computed.
        E.store(out, "t", E.column(out, "t") * self.time_factor + 0)
        for name, scale in zip("xy", factor):
            if E.has(out, name):
                E.store(out, name, E.column(out, name) * scale)
        return out

    def output_sensor_size(self, sensor_size):
        sensor = self.sensor_size if self.sensor_size is not None else sensor_size
        if sensor is None:
            return None
        if self.target_size is not None:
            return (*self.target_size, *tuple(sensor)[2:])
        factor = self._spatial_factor(sensor)
        width = math.ceil(sensor[0] * factor[0])
        height = math.ceil(sensor[1] * factor[1]) if sensor[1] > 1 else sensor[1]
        return (width, height, *tuple(sensor)[2:])


@dataclass(frozen=True)
class EventDownsampling(EventTransform):
    """Spatio-temporal downsampling to ``target_size`` (Ghosh et al. 2023), Tonic's
    ``downsampling_method`` "integrator" or "differentiator" (``streams.functional.
    event_downsampling``: values, kept odd rules, and what happens where Tonic raises). ``dt`` in
    ms for µs timestamps. Tonic's class passes its None defaults on and fails; here None means the
    functions' defaults: ``noise_threshold`` 0, ``differentiator_time_bins`` 2. Output fields x, y,
    p, t (int32) for structured input, Tonic's; a dict keeps its columns' dtypes."""

    sensor_size: SensorSize | None = None
    target_size: tuple[int, int] | None = None
    downsampling_method: str | None = None
    dt: float | None = None
    noise_threshold: int | None = None
    differentiator_time_bins: int | None = None

    def __post_init__(self):
        if self.downsampling_method not in ("integrator", "differentiator"):
            raise ValueError(f"downsampling_method must be 'integrator' or 'differentiator', got {self.downsampling_method!r}")
        if self.target_size is None or self.dt is None:
            raise ValueError("EventDownsampling needs target_size= and dt=")

    def __call__(self, events, *, rng=None, sensor_size=None):
        sensor = E.resolve_sensor_size(self.sensor_size, sensor_size, "EventDownsampling")
        arguments = [E.column(events, name) for name in "xypt"]
        threshold = 0 if self.noise_threshold is None else self.noise_threshold
        if self.downsampling_method == "integrator":
            columns = downsampling.integrator_downsample(*arguments, sensor, self.target_size, self.dt, threshold)
        else:
            bins = 2 if self.differentiator_time_bins is None else self.differentiator_time_bins
            columns = downsampling.differentiator_downsample(*arguments, sensor, self.target_size, self.dt, bins, threshold)
        dtype = np.dtype([(name, "i4") for name in "xypt"])
        if E.is_structured(events):
            return columns.T.view(dtype).reshape(-1)  # the kernels' records, as they lie
        return E.from_columns(events, dict(zip("xypt", columns)), dtype)

    def output_sensor_size(self, sensor_size):
        sensor = self.sensor_size if self.sensor_size is not None else sensor_size
        return None if sensor is None else (*self.target_size, 2)


@dataclass(frozen=True)
class MergePolarities(EventTransform):
    """Set every polarity to 0."""

    def __call__(self, events, *, rng=None, sensor_size=None):
        return E.assign(events, p=np.zeros_like(E.column(events, "p")))


@dataclass(frozen=True)
class NumpyAsType(EventTransform):
    """Cast to ``dtype``: a structured array to a plain ``[n, fields]`` array (or between
    structured dtypes, field by field, where Tonic returns the NotImplementedError class), a plain
    array to a structured one, a dict's columns each to ``dtype`` (or to a structured array)."""

    dtype: Any

    def __call__(self, events, *, rng=None, sensor_size=None):
        target = np.dtype(self.dtype)
        if isinstance(events, dict) or not isinstance(events, np.ndarray):
            if target.names is None:
                return {name: np.asarray(values).astype(target) for name, values in events.items()}
            return E.from_columns(np.empty(0, target), events, target)
        if E.is_structured(events):
            if target.names is None:
                return recfunctions.structured_to_unstructured(events, target)
            return events.astype(target)
        if target.names is not None:
            return recfunctions.unstructured_to_structured(events, target)
        return events.astype(target)


@dataclass(frozen=True)
class _Flip(EventTransform):
    """Mirror one coordinate (``size - 1 - value``) with probability p (``U[0,1) <= p``, Tonic's)."""

    sensor_size: SensorSize | None = None
    p: float = 0.5

    axis = ""

    def __post_init__(self):
        if not 0 <= self.p <= 1:
            raise ValueError(f"{type(self).__name__} needs p in [0, 1], got {self.p}")

    def __call__(self, events, *, rng=None, sensor_size=None):
        sensor = E.resolve_sensor_size(self.sensor_size, sensor_size, type(self).__name__)
        if E.default_rng(rng).random() > self.p:
            return E.assign(events)
        size = sensor[0] if self.axis == "x" else sensor[1]
        return E.assign(events, **{self.axis: size - 1 - E.column(events, self.axis).astype(np.int64)})


@dataclass(frozen=True)
class RandomFlipLR(_Flip):
    """x -> width - 1 - x with probability ``p``."""

    axis = "x"


@dataclass(frozen=True)
class RandomFlipUD(_Flip):
    """y -> height - 1 - y with probability ``p``."""

    axis = "y"


def _inverted_polarity(p: np.ndarray) -> np.ndarray:
    """Tonic's flip: 0 becomes 1, anything else 0, in p's dtype."""
    return np.invert(p.astype(bool)).astype(p.dtype)


@dataclass(frozen=True)
class RandomFlipPolarity(EventTransform):
    """Invert every polarity (0 -> 1, anything else -> 0) with probability ``p``. Tonic's docstring
    says "of individual events"; its code, followed here, flips all of a sample's events at once."""

    p: float = 0.5

    def __post_init__(self):
        if not 0 <= self.p <= 1:
            raise ValueError(f"RandomFlipPolarity needs p in [0, 1], got {self.p}")

    def __call__(self, events, *, rng=None, sensor_size=None):
        if E.default_rng(rng).random() > self.p:
            return E.assign(events)
        return E.assign(events, p=_inverted_polarity(E.column(events, "p")))


def _reverse_time(events: Events, flip_polarities: bool) -> Events:
    t = E.column(events, "t")
    if len(t) == 0:
        return events
    columns = {"t": t.max() - t}
    if flip_polarities:
        columns["p"] = _inverted_polarity(E.column(events, "p"))
    reversed_events = E.select(E.assign(events, **columns), slice(None, None, -1))
    # Reversed dict columns are copied: torch cannot wrap numpy's negative strides.
    return reversed_events if E.is_structured(events) else {k: v.copy() for k, v in reversed_events.items()}


@dataclass(frozen=True)
class TimeReversal(EventTransform):
    """t -> max(t) - t, events in reversed order, polarities inverted when ``flip_polarities``.
    Tonic 1.7 has only RandomTimeReversal; this is it with p = 1."""

    flip_polarities: bool = True

    def __call__(self, events, *, rng=None, sensor_size=None):
        return _reverse_time(events, self.flip_polarities)


@dataclass(frozen=True)
class RandomTimeReversal(EventTransform):
    """TimeReversal with probability ``p`` (``U[0,1) < p``, Tonic's)."""

    p: float = 0.5
    flip_polarities: bool = True

    def __post_init__(self):
        if not 0 <= self.p <= 1:
            raise ValueError(f"RandomTimeReversal needs p in [0, 1], got {self.p}")

    def __call__(self, events, *, rng=None, sensor_size=None):
        if E.default_rng(rng).random() < self.p:
            return _reverse_time(events, self.flip_polarities)
        return E.assign(events)


@dataclass(frozen=True)
class RefractoryPeriod(EventTransform):
    """Drop an event within ``delta`` of its pixel's previous event (``delta`` may be a (low, high)
    range, drawn per call and truncated to an integer as Tonic does). ``tonic_rule``: see
    ``streams.functional.events.refractory_period_mask``."""

    delta: float | tuple[float, float]
    tonic_rule: bool = True

    def __call__(self, events, *, rng=None, sensor_size=None):
        delta = self.delta
        if isinstance(delta, (tuple, list)):
            delta = int(_draw(delta, E.default_rng(rng)))
        mask = kernels.refractory_period_mask(
            E.column(events, "x"), E.column(events, "y"), E.column(events, "t"), delta, self.tonic_rule
        )
        return E.select(events, mask)


@dataclass(frozen=True)
class SpatialJitter(EventTransform):
    """Add a 2-D Gaussian shift (covariance [[var_x, sigma_xy], [sigma_xy, var_y]]) to each
    event's x, y, stored back into their dtype (truncated toward zero, Tonic's); with
    ``clip_outliers`` drop events that leave the sensor."""

    sensor_size: SensorSize | None = None
    var_x: float = 1
    var_y: float = 1
    sigma_xy: float = 0
    clip_outliers: bool = False

    def __call__(self, events, *, rng=None, sensor_size=None):
        rng = E.default_rng(rng)
        dx, dy = kernels.gaussian_shifts(E.count(events), [[self.var_x, self.sigma_xy], [self.sigma_xy, self.var_y]], rng)
        jittered = E.copy(events)
        E.store(jittered, "x", E.column(jittered, "x") + dx)
        E.store(jittered, "y", E.column(jittered, "y") + dy)
        if not self.clip_outliers:
            return jittered
        sensor = E.resolve_sensor_size(self.sensor_size, sensor_size, "SpatialJitter(clip_outliers=True)")
        x, y = E.column(jittered, "x"), E.column(jittered, "y")
        return E.select(jittered, (x >= 0) & (x < sensor[0]) & (y >= 0) & (y < sensor[1]))


@dataclass(frozen=True)
class TimeJitter(EventTransform):
    """Add N(0, std) to each t (stored back into t's dtype); drop t < 0 when ``clip_negative``;
    sort by t when ``sort_timestamps`` (a stable sort: Tonic's quicksort orders ties arbitrarily,
    differently from machine to machine, and a stream must repeat its draws)."""

    std: float
    clip_negative: bool = True
    sort_timestamps: bool = False

    def __call__(self, events, *, rng=None, sensor_size=None):
        rng = E.default_rng(rng)
        shifted = rng.normal(0, self.std, E.count(events))
        shifted += E.column(events, "t")
        if not (self.clip_negative or self.sort_timestamps):
            return E.assign(events, t=shifted)
        t = E.stored(events, "t", shifted)
        # The kept events' indices, sorted if asked, then one copy of them: copying the events
        # once per step costs more than the sort.
        index = np.flatnonzero(t >= 0) if self.clip_negative else np.arange(len(t))
        if self.sort_timestamps:
            index = index[kernels.stable_order(t[index])]
        kept = E.select(events, index)
        kept["t"] = t[index]  # already as ``store`` holds it (``stored``)
        return kept


@dataclass(frozen=True)
class TimeSkew(EventTransform):
    """t -> t * coefficient + offset (each may be a (low, high) range drawn per call, coefficient
    first), stored back into t's dtype."""

    coefficient: float | tuple[float, float]
    offset: float | tuple[float, float] = 0

    def __call__(self, events, *, rng=None, sensor_size=None):
        rng = E.default_rng(rng)
        coefficient = _draw(self.coefficient, rng)
        offset = _draw(self.offset, rng)
        return E.assign(events, t=E.column(events, "t") * coefficient + offset)


@dataclass(frozen=True)
class UniformNoise(EventTransform):
    """Add ``n`` events (a (low, high) range: drawn per call) uniform over the sensor and the
    events' time span, then sort by t (stably). Values are stored into the fields' dtypes as Tonic
    does, so a bool p is True for (almost) every noise event, as in Tonic. No events: unchanged.
    Fields other than t, x, y, p are 0 in the noise events (Tonic reuses another field's range)."""

    sensor_size: SensorSize | None = None
    n: int | tuple[int, int] | None = None

    def __post_init__(self):
        if self.n is None:
            raise ValueError("UniformNoise needs n=")

    def __call__(self, events, *, rng=None, sensor_size=None):
        if E.count(events) == 0:
            return events
        sensor = E.resolve_sensor_size(self.sensor_size, sensor_size, "UniformNoise")
        rng = E.default_rng(rng)
        n = int(_draw(self.n, rng))
        t = E.column(events, "t")
        ranges = {"x": (0, sensor[0]), "y": (0, sensor[1]), "p": (0, sensor[2]), "t": (t.min(), t.max())}
        noise = E.select(events, np.zeros(n, dtype=np.int64))  # n events of the input's kind and dtypes
        columns = {name: rng.uniform(*ranges[name], size=n) if name in ranges else np.zeros(n) for name in E.names(events)}
        noise = E.assign(noise, **columns)
        order = kernels.merge_sorted_times(t, E.column(noise, "t"))
        return E.select(E.concatenate(events, noise), order)
