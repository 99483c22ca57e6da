"""``index.json``: what a shard directory holds, so readers can plan epochs without opening shards.

Layout (``INDEX_VERSION`` 1)::

    format, version, dataset, sensor_size [W, H, P], classes [name by label],
    splits {split: {n_samples, n_events, n_shards}},
    shards [{path, split, n_samples, n_events, bytes, sha256,
             samples {keys, labels, n_events, offsets, sizes}}],   # per-sample columns, in shard order
    extra {...dataset-specific facts...},
    generator {name, version, options}

``offsets``/``sizes`` locate each sample's tar members (header included) inside its shard.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INDEX_NAME = "index.json"
INDEX_FORMAT = "neuroshards.index"
INDEX_VERSION = 1


class IndexFileError(ValueError):
    """An index.json that cannot be used; the message names the file."""


@dataclass
class SampleTable:
    keys: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    n_events: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)


@dataclass
class ShardInfo:
    path: str
    split: str
    n_samples: int
    n_events: int
    bytes: int
    sha256: str
    samples: SampleTable

    @classmethod
    def from_json(cls, data: dict) -> "ShardInfo":
        return cls(**{**data, "samples": SampleTable(**data["samples"])})

    def to_json(self) -> dict:
        # Not dataclasses.asdict: it deep-copies every key of every sample, one call each.
        return {**vars(self), "samples": vars(self.samples)}


@dataclass
class DatasetIndex:
    dataset: str
    sensor_size: list[int]
    classes: list[str]
    shards: list[ShardInfo]
    extra: dict[str, Any] = field(default_factory=dict)
    generator: dict[str, Any] = field(default_factory=dict)

    @property
    def splits(self) -> dict[str, dict[str, int]]:
        summary: dict[str, dict[str, int]] = {}
        for shard in self.shards:
            entry = summary.setdefault(shard.split, {"n_samples": 0, "n_events": 0, "n_shards": 0})
            entry["n_samples"] += shard.n_samples
            entry["n_events"] += shard.n_events
            entry["n_shards"] += 1
        return summary

    def shards_of(self, split: str | None) -> list[ShardInfo]:
        if split is None:
            return list(self.shards)
        chosen = [shard for shard in self.shards if shard.split == split]
        if not chosen:
            raise IndexFileError(f"{self.dataset}: no split {split!r}; the index holds {sorted(self.splits)}")
        return chosen

    def to_json(self) -> dict:
        return {
            "format": INDEX_FORMAT,
            "version": INDEX_VERSION,
            "dataset": self.dataset,
            "sensor_size": list(self.sensor_size),
            "classes": list(self.classes),
            "splits": self.splits,
            "shards": [shard.to_json() for shard in self.shards],
            "extra": self.extra,
            "generator": self.generator,
        }

    @classmethod
    def from_json(cls, data: dict, *, source: str = "index.json") -> "DatasetIndex":
        if data.get("format") != INDEX_FORMAT:
            raise IndexFileError(f"{source}: not a neuroshards index (format {data.get('format')!r})")
        if data.get("version") != INDEX_VERSION:
            raise IndexFileError(f"{source}: index version {data.get('version')} is not supported (reader: {INDEX_VERSION})")
        return cls(
            dataset=data["dataset"],
            sensor_size=list(data["sensor_size"]),
            classes=list(data["classes"]),
            shards=[ShardInfo.from_json(shard) for shard in data["shards"]],
            extra=data.get("extra", {}),
            generator=data.get("generator", {}),
        )


def resolve_index_path(path: str | os.PathLike) -> Path:
    """A shard directory or its index.json -> the index.json path."""
    path = Path(path)
    return path / INDEX_NAME if path.is_dir() else path


def load_index(path: str | os.PathLike) -> DatasetIndex:
    index_path = resolve_index_path(path)
    try:
        data = json.loads(index_path.read_text())
    except FileNotFoundError:
        raise IndexFileError(f"{index_path}: no index; convert a dataset first (shardgen convert ...)") from None
    except json.JSONDecodeError as error:
        raise IndexFileError(f"{index_path}: not valid JSON ({error})") from error
    return DatasetIndex.from_json(data, source=str(index_path))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename it over: readers never see half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_index(index: DatasetIndex, directory: str | os.PathLike, name: str = INDEX_NAME) -> Path:
    path = Path(directory) / name
    atomic_write_bytes(path, (json.dumps(index.to_json(), indent=1, sort_keys=False) + "\n").encode())
    return path
