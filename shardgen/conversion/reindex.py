"""``shardgen reindex DIR``: rebuild a shard directory's index from its shards, without reconverting.

For shards whose index is of an older version (1: the sample table inside index.json, no
per-sample checksums), damaged, or lost. Every shard is read once: its members give each sample's
key, label, byte range and event count; the bytes give the checksums. What the shards cannot
tell (dataset name, classes, dataset facts, generator options) comes from the old ``index.json``
where one is readable; without it, the split comes from the shard's name (``<split>-NNNNNN.tar``),
the classes are the label numbers and the sensor size is the records' own.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from neuroshards.errors import IndexFileError, ShardError
from neuroshards.index import INDEX_NAME, DatasetIndex, SampleColumns, ShardInfo, sample_checksum, save_index
from neuroshards.record import EVENTS_MEMBER, LABEL_MEMBER, RecordError, decode_record
from neuroshards.tar import member_bytes, member_key, parse_members


def _old_header(directory: Path) -> dict[str, Any]:
    try:
        header = json.loads((directory / INDEX_NAME).read_bytes())
    except (OSError, ValueError):
        return {}
    return header if isinstance(header, dict) else {}


def _shard_names(directory: Path, header: dict[str, Any]) -> list[tuple[str, str]]:
    """``(path, split)`` of every shard: the old index's list, else the folder's ``*.tar`` files."""
    listed = header.get("shards")
    if isinstance(listed, list) and all(isinstance(s, dict) and "path" in s and "split" in s for s in listed):
        return [(str(shard["path"]), str(shard["split"])) for shard in listed]
    names = sorted(path.name for path in directory.glob("*.tar"))
    if not names:
        raise IndexFileError(f"{directory}: no index and no .tar shards to rebuild one from")
    return [(name, name.split("-", 1)[0]) for name in names]


def scan_shard(path: Path) -> tuple[dict[str, list], int, str, list[int]]:
    """The sample columns of one shard, its size, its sha256 and the sensor size its records give.
    A sample's bytes run from the end of the previous sample to the end of its last member."""
    data = path.read_bytes()
    members, _, _ = parse_members(data, str(path), complete=True)
    grouped: list[tuple[str, dict[str, bytes], int]] = []
    for name, payload, offset in members:
        key, extension = member_key(name)
        end = offset + member_bytes(len(payload))
        if grouped and grouped[-1][0] == key:
            grouped[-1][1][extension] = payload
            grouped[-1] = (key, grouped[-1][1], end)
        else:
            grouped.append((key, {extension: payload}, end))
    columns: dict[str, list] = {name: [] for name in ("key", "label", "n_events", "offset", "size", "checksum")}
    sensor: list[int] = []
    start = 0
    for key, sample, end in grouped:
        try:
            record = decode_record(sample[EVENTS_MEMBER], key=key)
            label = int(sample[LABEL_MEMBER])
        except KeyError:
            raise ShardError(f"{path}: sample {key!r} lacks its {EVENTS_MEMBER} or {LABEL_MEMBER} member") from None
        except (RecordError, ValueError) as error:
            raise ShardError(f"{path}: sample {key!r}: {error}") from None
        for column, value in (
            ("key", key),
            ("label", label),
            ("n_events", int(record["n"])),
            ("offset", start),
            ("size", end - start),
            ("checksum", sample_checksum(data[start:end])),
        ):
            columns[column].append(value)
        sensor = [int(side) for side in record["sensor_size"]]
        start = end
    return columns, len(data), hashlib.sha256(data).hexdigest(), sensor


def reindex(directory: str | os.PathLike) -> Path:
    """Rebuild ``directory``'s ``index.json`` and ``index.samples`` from its shards."""
    directory = Path(directory)
    header = _old_header(directory)
    shards: list[ShardInfo] = []
    tables: list[SampleColumns] = []
    sensor: list[int] = []
    for name, split in _shard_names(directory, header):
        path = directory / name
        if not path.is_file():
            raise IndexFileError(f"{path}: listed in {directory / INDEX_NAME} but missing")
        columns, size, sha256, sensor = scan_shard(path)
        shards.append(ShardInfo(name, split, len(columns["key"]), int(sum(columns["n_events"])), size, sha256))
        tables.append(SampleColumns.build({**columns, "shard": [0] * len(columns["key"])}))
    samples = SampleColumns.concatenate(tables, range(len(tables)))
    labels = samples.label.tolist()
    classes = (
        header.get("classes")
        if isinstance(header.get("classes"), list)
        else [str(label) for label in range(max(labels, default=-1) + 1)]
    )
    index = DatasetIndex(
        dataset=str(header.get("dataset", directory.name)),
        sensor_size=header.get("sensor_size") if isinstance(header.get("sensor_size"), list) else sensor or [1, 1, 1],
        classes=classes,
        shards=shards,
        samples=samples,
        extra=header.get("extra") if isinstance(header.get("extra"), dict) else {},
        generator={**(header.get("generator") if isinstance(header.get("generator"), dict) else {}), "reindexed": True},
    )
    return save_index(index, directory)
