"""The index of a shard directory: ``index.json``, a small JSON header, and ``index.samples``, the
per-sample columns that readers memory-map instead of parsing.

``index.json`` (``INDEX_VERSION`` 2)::

    format       "neuroshards.index"
    version      2
    dataset, sensor_size [W, H, P], classes [name by label]
    splits       {split: {n_samples, n_events, n_shards}}          (a summary, recomputed on load)
    shards       [{path, split, n_samples, n_events, bytes, sha256}]
    samples      {file, rows, bytes, xxh3_64, columns {name: {dtype, offset}}}
    extra        {...dataset-specific facts...}
    generator    {name, version, options}

``index.samples`` holds the columns one after another, each at an offset aligned to 64 bytes, one
row per sample. Rows follow ``shards``: shard ``j``'s samples are the ``n_samples`` rows after those
of shards ``0..j-1``, in storage order. The columns (``SampleColumns``):

    key       |S<n>  the sample key (UTF-8, NUL-padded: webdataset's ``__key__``)
    label     <i4    the class number
    n_events  <i8    events in the sample
    shard     <i4    the row's shard, a position in ``shards``
    offset    <i8    first byte of the sample's tar members (its first header) in the shard
    size      <i8    bytes of those members, headers and padding included
    checksum  <u8    xxh3-64 of those bytes, checked by every read before decoding

Opening an index maps the columns (local files) or holds them in memory (remote): nothing is
parsed per sample, so a 1.26M-sample index opens in milliseconds and its pages are shared by every
process of a machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from .atomic import atomic_write_bytes
from .errors import IndexFileError

INDEX_NAME = "index.json"
INDEX_FORMAT = "neuroshards.index"
INDEX_VERSION = 2
COLUMN_ALIGNMENT = 64

REINDEX_HINT = "rebuild it from the shards with `shardgen reindex {directory}` (no reconversion needed)"


def sample_checksum(data: bytes | memoryview) -> int:
    """The checksum of a sample's bytes (its tar members): xxh3-64, some 10 GB/s on one core."""
    return xxhash.xxh3_64_intdigest(data)


@dataclass(frozen=True)
class ShardInfo:
    path: str
    split: str
    n_samples: int
    n_events: int
    bytes: int
    sha256: str


# Column name -> dtype; keys are fixed-width bytes sized to the longest key.
COLUMN_DTYPES: dict[str, np.dtype] = {
    "label": np.dtype("<i4"),
    "n_events": np.dtype("<i8"),
    "shard": np.dtype("<i4"),
    "offset": np.dtype("<i8"),
    "size": np.dtype("<i8"),
    "checksum": np.dtype("<u8"),
}


@dataclass(frozen=True)
class SampleColumns:
    """One row per sample (see the module docstring); arrays may be read-only memory maps."""

    key: np.ndarray
    label: np.ndarray
    n_events: np.ndarray
    shard: np.ndarray
    offset: np.ndarray
    size: np.ndarray
    checksum: np.ndarray

    def __post_init__(self) -> None:
        lengths = {column.name: len(getattr(self, column.name)) for column in fields(self)}
        if len(set(lengths.values())) > 1:
            raise IndexFileError(f"sample columns of different lengths: {lengths}")

    def __len__(self) -> int:
        return len(self.key)

    @classmethod
    def build(cls, rows: Mapping[str, Sequence[Any]]) -> SampleColumns:
        """From Python sequences (the writer's tables)."""
        keys = [key.encode("utf-8") if isinstance(key, str) else bytes(key) for key in rows["key"]]
        width = max((len(key) for key in keys), default=1) or 1
        return cls(
            key=np.array(keys, dtype=f"S{width}"),
            **{name: np.asarray(rows[name], dtype=dtype).reshape(-1) for name, dtype in COLUMN_DTYPES.items()},
        )

    @classmethod
    def concatenate(cls, tables: Sequence[SampleColumns], shard_offsets: Sequence[int]) -> SampleColumns:
        """Tables one after another, each one's shard numbers moved by its ``shard_offsets`` entry."""
        if not tables:
            return cls.build({"key": [], **{name: [] for name in COLUMN_DTYPES}})
        width = max(table.key.dtype.itemsize for table in tables)
        columns: dict[str, np.ndarray] = {"key": np.concatenate([table.key.astype(f"S{width}") for table in tables])}
        for name in COLUMN_DTYPES:
            parts = [np.asarray(getattr(table, name)) for table in tables]
            if name == "shard":
                parts = [part + offset for part, offset in zip(parts, shard_offsets)]
            columns[name] = np.concatenate(parts).astype(COLUMN_DTYPES[name], copy=False)
        return cls(**columns)

    def take(self, rows: np.ndarray) -> SampleColumns:
        return SampleColumns(**{column.name: np.asarray(getattr(self, column.name))[rows] for column in fields(self)})

    def key_of(self, row: int) -> str:
        return bytes(self.key[row]).decode("utf-8")

    def keys(self, rows: np.ndarray | slice = slice(None)) -> list[str]:
        return [key.decode("utf-8") for key in np.asarray(self.key[rows]).tolist()]


@dataclass
class DatasetIndex:
    dataset: str
    sensor_size: list[int]
    classes: list[str]
    shards: list[ShardInfo]
    samples: SampleColumns
    extra: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)
    source: str = INDEX_NAME  # where it was read from, for messages

    def __post_init__(self) -> None:
        rows = sum(shard.n_samples for shard in self.shards)
        if rows != len(self.samples):
            raise IndexFileError(f"{self.source}: the shards hold {rows} samples, the sample columns {len(self.samples)} rows")

    @property
    def splits(self) -> dict[str, dict[str, int]]:
        summary: dict[str, dict[str, int]] = {}
        for shard in self.shards:
            entry = summary.setdefault(shard.split, {"n_samples": 0, "n_events": 0, "n_shards": 0})
            entry["n_samples"] += shard.n_samples
            entry["n_events"] += shard.n_events
            entry["n_shards"] += 1
        return summary

    @property
    def shard_starts(self) -> np.ndarray:
        """First row of each shard, plus the total."""
        return np.concatenate([[0], np.cumsum([shard.n_samples for shard in self.shards], dtype=np.int64)])

    def resolve_split(self, split: str | None) -> str:
        """``split`` checked against the index: ``None`` is allowed only where there is one split;
        ``"all"`` means every split."""
        names = sorted(self.splits)
        if split is None:
            if len(names) > 1:
                raise IndexFileError(
                    f"{self.source}: {self.dataset} has splits {names}: choose one with split=... "
                    "(or split='all' for every sample of every split)"
                )
            return names[0] if names else "all"
        if split != "all" and split not in names:
            raise IndexFileError(f"{self.source}: {self.dataset} has no split {split!r}; the index holds {names}")
        return split

    def shard_numbers(self, split: str | None) -> list[int]:
        """Positions in ``shards`` of the shards of ``split`` (see ``resolve_split``)."""
        split = self.resolve_split(split)
        return [number for number, shard in enumerate(self.shards) if split == "all" or shard.split == split]

    def rows(self, split: str | None) -> np.ndarray:
        """The rows of ``split``'s samples, in storage order."""
        starts = self.shard_starts
        chosen = self.shard_numbers(split)
        if len(chosen) == len(self.shards):
            return np.arange(len(self.samples), dtype=np.int64)
        return np.concatenate([np.arange(starts[j], starts[j + 1], dtype=np.int64) for j in chosen] or [np.zeros(0, np.int64)])

    def header(self) -> dict[str, Any]:
        """The JSON header, without the ``samples`` entry (``save_index`` adds it)."""
        return {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            "dataset": self.dataset,
            "sensor_size": list(self.sensor_size),
            "classes": list(self.classes),
            "splits": self.splits,
            "shards": [vars(shard).copy() for shard in self.shards],
            "extra": self.extra,
            "generator": self.generator,
        }


# Reading ----------------------------------------------------------------------------------------

_HEADER_FIELDS: dict[str, type] = {
    "dataset": str,
    "sensor_size": list,
    "classes": list,
    "shards": list,
    "samples": dict,
}
_SHARD_FIELDS: dict[str, type] = {"path": str, "split": str, "n_samples": int, "n_events": int, "bytes": int, "sha256": str}


def _check_header(data: Any, source: str, directory: str) -> None:
    if not isinstance(data, dict) or data.get("format") != INDEX_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise IndexFileError(f"{source}: not a neuroshards index (format {found!r})")
    version = data.get("version")
    if version == 1:
        raise IndexFileError(
            f"{source}: index version 1 (no per-sample checksums, sample table inside the JSON); "
            + REINDEX_HINT.format(directory=directory)
        )
    if version != INDEX_VERSION:
        raise IndexFileError(f"{source}: index version {version!r} is not supported (this reader: {INDEX_VERSION})")
    for name, kind in _HEADER_FIELDS.items():
        if not isinstance(data.get(name), kind):
            raise IndexFileError(
                f"{source}: field {name!r} is missing or not a {kind.__name__}; " + REINDEX_HINT.format(directory=directory)
            )
    for number, shard in enumerate(data["shards"]):
        for name, kind in _SHARD_FIELDS.items():
            value = shard.get(name) if isinstance(shard, dict) else None
            if not isinstance(value, kind) or isinstance(value, bool) or (isinstance(value, int) and not 0 <= value < 1 << 63):
                raise IndexFileError(
                    f"{source}: shard {number} has no valid {name!r}; " + REINDEX_HINT.format(directory=directory)
                )
        if os.path.isabs(shard["path"]) or ":" in shard["path"]:
            raise IndexFileError(f"{source}: shard path {shard['path']!r} is not relative to the index's folder")
    if not all(isinstance(side, int) and side > 0 for side in data["sensor_size"]) or not 1 <= len(data["sensor_size"]) <= 3:
        raise IndexFileError(f"{source}: sensor_size {data['sensor_size']!r} is not 1 to 3 positive integers")


def samples_file_name(index_name: str) -> str:
    """``index.json`` -> ``index.samples``; ``index.part0001of0004.json`` -> ``index.part0001of0004.samples``."""
    return (index_name[: -len(".json")] if index_name.endswith(".json") else index_name) + ".samples"


def _column_layout(entry: Any, source: str, directory: str) -> tuple[int, int, dict[str, tuple[np.dtype, int]]]:
    try:
        rows, size = int(entry["rows"]), int(entry["bytes"])
        layout = {name: (np.dtype(spec["dtype"]), int(spec["offset"])) for name, spec in entry["columns"].items()}
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as error:
        raise IndexFileError(
            f"{source}: damaged 'samples' entry ({error}); " + REINDEX_HINT.format(directory=directory)
        ) from None
    expected = {"key", *COLUMN_DTYPES}
    if set(layout) != expected:
        raise IndexFileError(f"{source}: sample columns {sorted(layout)}, expected {sorted(expected)}")
    for name, (dtype, offset) in layout.items():
        if (name == "key" and (dtype.kind != "S" or dtype.itemsize == 0)) or (name != "key" and dtype != COLUMN_DTYPES[name]):
            raise IndexFileError(f"{source}: column {name!r} has dtype {dtype}")
        if rows < 0 or offset < 0 or offset + rows * dtype.itemsize > size:
            raise IndexFileError(f"{source}: column {name!r} lies outside the {size}-byte samples file")
    return rows, size, layout


def parse_index(
    header: Any, read_samples: Callable[[str, int], bytes | np.ndarray | None], *, source: str, directory: str
) -> DatasetIndex:
    """An index from its JSON header and a function giving the samples file: ``read_samples(name,
    size)`` returns its bytes (remote), or None to memory-map ``directory/name`` (local)."""
    _check_header(header, source, directory)
    entry = header["samples"]
    name = entry.get("file")
    if not isinstance(name, str) or "/" in name or name.startswith("."):
        raise IndexFileError(f"{source}: samples file {name!r} is not a file name beside the index")
    rows, size, layout = _column_layout(entry, source, directory)
    where = os.path.join(directory, name)
    read = data = read_samples(name, size)
    if data is None:
        try:
            actual = os.path.getsize(where)
            data = np.memmap(where, dtype=np.uint8, mode="r") if actual else np.zeros(0, np.uint8)
        except OSError as error:
            raise IndexFileError(
                f"{where}: cannot open the sample columns ({error.strerror}); " + REINDEX_HINT.format(directory=directory)
            ) from None
    else:
        data = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data
    if len(data) != size:
        raise IndexFileError(
            f"{where}: {len(data)} bytes, {source} expects {size}: the two were not written together; "
            + REINDEX_HINT.format(directory=directory)
        )
    if entry.get("xxh3_64") != format(_file_checksum(None if read is None else data, where), "016x"):
        raise IndexFileError(f"{where}: checksum differs from {source}'s; " + REINDEX_HINT.format(directory=directory))
    columns = {column: data[offset : offset + rows * dtype.itemsize].view(dtype) for column, (dtype, offset) in layout.items()}
    samples = SampleColumns(**columns)
    shards = [ShardInfo(**{name: shard[name] for name in _SHARD_FIELDS}) for shard in header["shards"]]
    index = DatasetIndex(
        dataset=header["dataset"],
        sensor_size=list(header["sensor_size"]),
        classes=list(header["classes"]),
        shards=shards,
        samples=samples,
        extra=header.get("extra") or {},
        generator=header.get("generator") or {},
        source=source,
    )
    if len(samples) and (int(samples.shard.min()) < 0 or int(samples.shard.max()) >= len(shards)):
        raise IndexFileError(f"{source}: a sample names a shard that the index does not list")
    return index


def _file_checksum(data: np.ndarray | None, path: str) -> int:
    """xxh3-64 of the samples file: of ``data`` when it was fetched, else read from ``path`` in
    slices through one buffer (hashing the memory map would keep every page of it resident)."""
    digest = xxhash.xxh3_64()
    if data is not None:
        digest.update(data.data)
        return digest.intdigest()
    buffer = bytearray(8 << 20)
    with open(path, "rb", buffering=0) as stream:
        while got := stream.readinto(buffer):
            digest.update(memoryview(buffer)[:got])
    return digest.intdigest()


def resolve_index_path(path: str | os.PathLike) -> Path:
    """A shard directory or its index.json -> the index.json path."""
    path = Path(path)
    return path / INDEX_NAME if path.is_dir() else path


def load_index(path: str | os.PathLike) -> DatasetIndex:
    """The index of a local shard directory (or of its ``index.json``)."""
    index_path = resolve_index_path(path)
    try:
        header = json.loads(index_path.read_bytes())
    except FileNotFoundError:
        raise IndexFileError(f"{index_path}: no index; convert a dataset first (shardgen convert ...)") from None
    except OSError as error:
        raise IndexFileError(f"{index_path}: cannot read ({error.strerror})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise IndexFileError(f"{index_path}: not valid JSON ({error})") from None
    return parse_index(header, lambda name, size: None, source=str(index_path), directory=str(index_path.parent))


# Writing ----------------------------------------------------------------------------------------


def _aligned(offset: int) -> int:
    return -(-offset // COLUMN_ALIGNMENT) * COLUMN_ALIGNMENT


def encode_samples(samples: SampleColumns) -> tuple[bytes, dict[str, Any]]:
    """The samples file's bytes and its ``samples`` entry (without the file name)."""
    parts: list[bytes] = []
    layout: dict[str, dict[str, Any]] = {}
    offset = 0
    for column in fields(samples):
        array = np.ascontiguousarray(getattr(samples, column.name))
        dtype = array.dtype if column.name == "key" else COLUMN_DTYPES[column.name]
        array = array.astype(dtype, copy=False)
        start = _aligned(offset)
        parts.append(bytes(start - offset))
        parts.append(array.tobytes())
        layout[column.name] = {"dtype": dtype.str, "offset": start}
        offset = start + array.nbytes
    data = b"".join(parts)
    return data, {
        "rows": len(samples),
        "bytes": len(data),
        "xxh3_64": format(xxhash.xxh3_64_intdigest(data), "016x"),
        "columns": layout,
    }


def save_index(index: DatasetIndex, directory: str | os.PathLike, name: str = INDEX_NAME) -> Path:
    """Write the sample columns, then the JSON header that names them (readers find either the old
    pair or the new one; a mismatch is reported, never read)."""
    directory = Path(directory)
    data, entry = encode_samples(index.samples)
    samples_name = samples_file_name(name)
    atomic_write_bytes(directory / samples_name, data)
    header = {**index.header(), "samples": {"file": samples_name, **entry}}
    path = directory / name
    atomic_write_bytes(path, (json.dumps(header, indent=1) + "\n").encode())
    return path


def iter_split_keys(index: DatasetIndex, split: str | None) -> Iterable[tuple[str, int]]:
    """``(key, label)`` of ``split``'s samples in storage order."""
    rows = index.rows(split)
    return zip(index.samples.keys(rows), index.samples.label[rows].tolist())
