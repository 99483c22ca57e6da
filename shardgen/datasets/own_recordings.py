"""Your own recordings: ``folder`` (ROOT/<class>/<recordings>) and ``manifest`` (a CSV of labelled
files or time segments), in any registered event format, optionally cut into fixed windows.

Every recording is read in chunks (``formats.open_recording``) and cut by ``slicing`` while it
streams, so memory stays bounded by the largest sample written, not by the recording.

Folder split rule (``split_ratio`` r): per class, recordings in sorted path order; the first
``ceil(r * n)`` are ``train``, the rest ``test`` (SpikingJelly's ``split_to_train_test_set`` rule
without shuffling). All windows of a recording go to its recording's split. Without r: ``all``.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..formats import FORMATS, FormatError, concatenate, open_recording
from ..formats.rawtree import RawFile, RawInputError, scan
from .base import DatasetAdapter, Plan, Sample, key_from_path
from .registry import register
from .slicing import count_windows, cut_intervals, time_windows

WHOLE = 1 << 62  # a segment without bounds: the whole recording


@dataclass(frozen=True)
class ReadOptions:
    """How to read the recordings: format (None: detect), sensor size (None: header), time unit."""

    format: str | None = None
    sensor_size: tuple[int, int] | None = None
    time_unit: str = "us"
    chunk_events: int = 1 << 20

    def open(self, file: RawFile, *, require_sensor_size: bool = True):
        return open_recording(
            file, self.format, sensor_size=self.sensor_size, require_sensor_size=require_sensor_size, time_unit=self.time_unit
        )


@dataclass(frozen=True)
class Windows:
    """Fixed windows: ``window_us`` or ``window_events`` (one of them), consecutive windows sharing
    ``overlap`` µs or events."""

    window_us: int | None = None
    window_events: int | None = None
    overlap: int = 0

    def __post_init__(self):
        if (self.window_us is None) == (self.window_events is None):
            raise ValueError("give exactly one of window_us and window_events")
        size = self.window_us if self.window_us is not None else self.window_events
        if size <= 0 or not 0 <= self.overlap < size:
            raise ValueError(f"need a positive window and 0 <= overlap < window, got window {size}, overlap {self.overlap}")

    def cut(self, chunks):
        if self.window_us is not None:
            return time_windows(chunks, self.window_us, self.overlap)
        return count_windows(chunks, self.window_events, self.overlap)

    def describe(self) -> dict[str, int | None]:
        return {"window_us": self.window_us, "window_events": self.window_events, "overlap": self.overlap}


@dataclass(frozen=True)
class Segment:
    """One sample to cut: ``[start_us, end_us)`` of the recording (None: all of it)."""

    key: str
    label: int
    split: str
    start_us: int | None = None
    end_us: int | None = None


@dataclass(frozen=True)
class RecordingTask:
    """One recording cut into its segments, each whole or in windows, read in one streaming pass."""

    file: RawFile
    segments: tuple[Segment, ...]
    reading: ReadOptions
    windows: Windows | None = None

    @property
    def source(self) -> str:
        return self.file.location

    @property
    def streaming(self) -> bool:
        return self.windows is not None or len(self.segments) > 1

    @property
    def key(self) -> str | None:
        """The sample's key when the task makes exactly one sample (for error messages)."""
        return self.segments[0].key if len(self.segments) == 1 and self.windows is None else None

    def run(self) -> Iterator[Sample]:
        with self.reading.open(self.file) as reader:
            chunks = reader.chunks(self.reading.chunk_events)
            if len(self.segments) == 1 and self.segments[0].start_us is None:
                yield from self._emit(self.segments[0], chunks)  # windows stream straight from the reader
                return
            intervals = [
                (segment.start_us, segment.end_us) if segment.start_us is not None else (-WHOLE, WHOLE)
                for segment in self.segments
            ]
            for index, events in cut_intervals(chunks, intervals):
                yield from self._emit(self.segments[index], iter([events]))

    def _emit(self, segment: Segment, chunks) -> Iterator[Sample]:
        if self.windows is None:
            yield Sample(segment.key, segment.label, segment.split, concatenate(chunks))
            return
        for number, events in enumerate(self.windows.cut(chunks)):
            yield Sample(f"{segment.key}_{number:06d}", segment.label, segment.split, events)


class OwnRecordings(DatasetAdapter):
    """Shared options and planning of ``folder`` and ``manifest``."""

    sensor_size = (0, 0, 2)  # replaced by the recordings' sensor size when planning
    homepage = ""

    def __init__(
        self,
        *,
        format: str | None = None,
        sensor_size: tuple[int, int] | None = None,
        time_unit: str = "us",
        window_us: int | None = None,
        window_events: int | None = None,
        overlap: int = 0,
        chunk_events: int = 1 << 20,
    ):
        """``chunk_events``: events decoded at a time (the reading part of the memory bound)."""
        self.reading = ReadOptions(format, tuple(sensor_size) if sensor_size else None, time_unit, chunk_events)
        self.windows = None if window_us is None and window_events is None else Windows(window_us, window_events, overlap)
        if self.windows is None and overlap:
            raise ValueError("overlap needs window_us or window_events")
        self.options: dict[str, Any] = {
            "format": format,
            "sensor_size": list(sensor_size) if sensor_size else None,
            "time_unit": time_unit,
            **(self.windows.describe() if self.windows else {}),
        }

    @classmethod
    def where_to_get(cls) -> str:
        return "your own recordings in any supported format (docs/datasets/own-recordings.md)"

    def verify(self, raw) -> list[str]:
        return []  # nothing published to check

    @classmethod
    def add_arguments(cls, parser) -> None:
        parser.add_argument(
            "--format",
            default=None,
            choices=sorted(FORMATS),
            help="event format of every file (default: detect from header, else extension)",
        )
        parser.add_argument(
            "--sensor-size",
            nargs=2,
            type=int,
            metavar=("W", "H"),
            default=None,
            help="sensor width and height (required where the files' headers do not record it)",
        )
        parser.add_argument(
            "--time-unit",
            choices=["ns", "us", "ms", "s"],
            default="us",
            help="unit of timestamps in HDF5/NumPy/text files (default us)",
        )
        parser.add_argument("--window-us", type=int, default=None, help="cut recordings into windows of this many µs")
        parser.add_argument("--window-events", type=int, default=None, help="cut recordings into windows of this many events")
        parser.add_argument("--overlap", type=int, default=0, help="µs or events shared by consecutive windows (default 0)")

    @classmethod
    def options_from_arguments(cls, args) -> dict[str, Any]:
        return {
            "format": args.format,
            "sensor_size": tuple(args.sensor_size) if args.sensor_size else None,
            "time_unit": args.time_unit,
            "window_us": args.window_us,
            "window_events": args.window_events,
            "overlap": args.overlap,
        }

    def _settle_sensor_size(self, files: list[RawFile]) -> None:
        """The sensor size of the index: the option, else the one every header records."""
        if self.reading.sensor_size is not None:
            self.sensor_size = (*self.reading.sensor_size, 2)
            return
        sizes = {}
        for file in files:
            with self.reading.open(file, require_sensor_size=False) as reader:
                if reader.sensor_size is None:
                    raise FormatError(file.location, None, "the header records no sensor size; give --sensor-size W H")
                sizes.setdefault(tuple(reader.sensor_size), file.location)
        if len(sizes) > 1:
            raise RawInputError(f"recordings of different sensor sizes {sizes}; give --sensor-size W H")
        self.sensor_size = (*next(iter(sizes)), 2)

    def _plan(self, work: list[tuple[RawFile, list[Segment]]], classes: list[str], extra: dict) -> Plan:
        self._settle_sensor_size([file for file, _ in work])
        tasks = [RecordingTask(file, tuple(segments), self.reading, self.windows) for file, segments in work]
        return Plan(classes=classes, tasks=tasks, extra={**extra, "windows": self.windows.describe() if self.windows else None})


@register
class Folder(OwnRecordings):
    name = "folder"
    title = "A folder of recordings, ROOT/<class>/<files>"

    def __init__(self, *, split_ratio: float | None = None, **options: Any):
        super().__init__(**options)
        if split_ratio is not None and not 0 < split_ratio < 1:
            raise ValueError(f"split_ratio must lie strictly between 0 and 1, got {split_ratio}")
        self.split_ratio = split_ratio
        self.options["split_ratio"] = split_ratio

    @classmethod
    def add_arguments(cls, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--split-ratio",
            type=float,
            default=None,
            help="per class, the first ceil(r * n) recordings (sorted) are train, the rest test",
        )

    @classmethod
    def options_from_arguments(cls, args) -> dict[str, Any]:
        return {**super().options_from_arguments(args), "split_ratio": args.split_ratio}

    def plan(self, raw: str | Path) -> Plan:
        by_class: dict[str, list[RawFile]] = {}
        for file in scan(raw):
            parts = file.relpath.split("/")
            if len(parts) >= 2 and not any(part.startswith(".") for part in parts):
                by_class.setdefault(parts[0], []).append(file)
        if not by_class:
            raise RawInputError(f"{raw}: no recordings in ROOT/<class>/<files> layout")
        classes = sorted(by_class)
        work = []
        for label, name in enumerate(classes):
            files = sorted(by_class[name])
            n_train = math.ceil(self.split_ratio * len(files)) if self.split_ratio is not None else None
            for rank, file in enumerate(files):
                split = "all" if n_train is None else ("train" if rank < n_train else "test")
                work.append((file, [Segment(key_from_path(file.relpath), label, split)]))
        rule = (
            "all" if self.split_ratio is None else f"per class, first ceil({self.split_ratio} * n) sorted files train, rest test"
        )
        return self._plan(work, classes, {"split_rule": rule})


MANIFEST_COLUMNS = ("path", "label", "split", "start_us", "end_us")
#: A split names shard files in the output folder: a plain name, never a path.
SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


@register
class Manifest(OwnRecordings):
    name = "manifest"
    title = "Recordings or time segments listed in a CSV manifest"
    raw_required = False

    def __init__(self, *, manifest: str | Path, **options: Any):
        super().__init__(**options)
        self.manifest = Path(manifest)
        self.options["manifest"] = str(manifest)

    @classmethod
    def add_arguments(cls, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--manifest",
            type=Path,
            required=True,
            help="CSV rows path,label[,split][,start_us,end_us]; relative paths from --raw or the manifest's folder",
        )

    @classmethod
    def options_from_arguments(cls, args) -> dict[str, Any]:
        return {**super().options_from_arguments(args), "manifest": args.manifest}

    def plan(self, raw: str | Path | None) -> Plan:
        rows = read_manifest(self.manifest)
        base = Path(raw) if raw is not None else self.manifest.parent
        labels = [label for _, _, label, *_ in rows]
        if all(label.isdigit() for label in labels):
            classes = [str(number) for number in range(max(int(label) for label in labels) + 1)]
        else:
            classes = sorted(set(labels))
        label_of = {name: index for index, name in enumerate(classes)}
        work: dict[str, tuple[RawFile, list[Segment]]] = {}
        for line, path, label, split, start, end in rows:
            file = _raw_file(base, path, self.manifest, line)
            key = f"{key_from_path(path.replace(chr(92), '/'))}_row{line:06d}"
            segment = Segment(key, label_of[label], split or "all", start, end)
            work.setdefault(file.disk_path, (file, []))[1].append(segment)
        return self._plan(list(work.values()), classes, {"manifest": self.manifest.name, "split_rule": "manifest column"})


def _raw_file(base: Path, path: str, manifest: Path, line: int) -> RawFile:
    location = Path(path) if Path(path).is_absolute() else base / path
    if not location.is_file():
        raise RawInputError(f"{manifest}: line {line}: recording {location} not found")
    return RawFile(path, str(location))


def read_manifest(path: Path) -> list[tuple[int, str, str, str, int | None, int | None]]:
    """Rows ``(line, path, label, split, start_us, end_us)``; an optional header names the columns."""
    try:
        text = path.read_text()
    except OSError as error:
        raise RawInputError(f"{path}: cannot read the manifest ({error})") from None
    rows = [(number, [cell.strip() for cell in row]) for number, row in enumerate(csv.reader(text.splitlines()), 1)]
    rows = [(number, row) for number, row in rows if any(row) and not row[0].startswith("#")]
    if not rows:
        raise RawInputError(f"{path}: the manifest lists no recording")
    header = [cell.lower() for cell in rows[0][1]]
    if "path" in header and "label" in header:
        unknown = set(header) - set(MANIFEST_COLUMNS)
        if unknown:
            raise RawInputError(f"{path}: unknown manifest columns {sorted(unknown)}; use {MANIFEST_COLUMNS}")
        columns, rows = header, rows[1:]
    else:
        columns = None
    result = []
    for number, row in rows:
        names = columns or {
            2: ["path", "label"],
            3: ["path", "label", "split"],
            4: ["path", "label", "start_us", "end_us"],
            5: list(MANIFEST_COLUMNS),
        }.get(len(row))
        if names is None or len(row) != len(names):
            raise RawInputError(f"{path}: line {number} has {len(row)} values; expected path,label[,split][,start_us,end_us]")
        cells = dict(zip(names, row))
        if not cells["path"] or not cells["label"]:
            raise RawInputError(f"{path}: line {number}: empty path or label")
        start, end = cells.get("start_us") or None, cells.get("end_us") or None
        if (start is None) != (end is None):
            raise RawInputError(f"{path}: line {number}: give both start_us and end_us, or neither")
        try:
            start, end = (int(start), int(end)) if start is not None else (None, None)
        except ValueError:
            raise RawInputError(f"{path}: line {number}: start_us/end_us must be integers (µs)") from None
        if start is not None and end <= start:
            raise RawInputError(f"{path}: line {number}: end_us {end} is not after start_us {start}")
        split = cells.get("split", "")
        if split and not SPLIT_NAME.match(split):
            raise RawInputError(
                f"{path}: line {number}: split {split!r} is not a plain name (letters, digits, '_', '-'): "
                "it names shard files inside --out"
            )
        result.append((number, cells["path"], cells["label"], split, start, end))
    return result
