"""``shardgen merge``: join the partial indexes of a conversion spread over machines (``--part i/n``).

Each part writes its shards (``<split>-part000iof000n-NNNNNN.tar``) and a partial index
(``index.part000iof000n.json``) into its output folder, which the parts may share. The merge
checks that the parts belong together (same dataset, sensor, classes, dataset facts and generator
options; every part of n exactly once; no sample key twice) and writes one ``index.json`` whose
shard paths are relative to its folder, so the shards stay where the parts wrote them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from neuroshards.index import INDEX_NAME, DatasetIndex, IndexFileError, SampleColumns, ShardInfo

from .storage import is_url, list_names, read_index, relative_path, write_index

PARTIAL_PATTERN = "index.part*of*.json"


def _partial_indexes(directories: Sequence[str | os.PathLike]) -> list[tuple[str | os.PathLike, str]]:
    """(folder or URL, file name) of each partial index found."""
    found: list[tuple[str | os.PathLike, str]] = []
    for directory in directories:
        if not is_url(directory) and not Path(directory).is_dir():
            raise IndexFileError(f"{directory}: not a folder")
        partial = list_names(directory, PARTIAL_PATTERN)
        if not partial:
            raise IndexFileError(f"{directory}: no partial index ({PARTIAL_PATTERN}); convert with --part I/N first")
        found.extend((directory, name) for name in partial)
    return found


def _identity(index: DatasetIndex) -> dict:
    options = {name: value for name, value in index.generator.get("options", {}).items() if name != "part"}
    return {
        "dataset": index.dataset,
        "sensor_size": list(index.sensor_size),
        "classes": list(index.classes),
        "extra": index.extra,
        "generator": {**index.generator, "options": options},
    }


def merge_parts(directories: Sequence[str | os.PathLike], out: str | os.PathLike | None = None) -> str:
    """Merge the partial indexes found in ``directories`` into ``out/index.json`` (``out`` defaults
    to the only directory given). Folders, or object storage URLs (all of one kind). Returns where
    the merged index is."""
    if out is None:
        if len(directories) != 1:
            raise IndexFileError("the parts are in several folders: name the merged index's folder with --out")
        out = directories[0]
    paths = _partial_indexes(directories)
    parts: dict[int, tuple[tuple[str | os.PathLike, str], DatasetIndex]] = {}
    counts = set()
    reference: tuple[tuple[str | os.PathLike, str], dict] | None = None
    for directory, name in paths:
        path = (directory, name)
        index = read_index(directory, name)
        part = index.generator.get("options", {}).get("part")
        if not (isinstance(part, list) and len(part) == 2):
            raise IndexFileError(f"{_name(path)}: not a partial index (its generator options name no part)")
        number, count = part
        counts.add(count)
        if number in parts:
            raise IndexFileError(f"{_name(path)}: part {number}/{count} also comes from {_name(parts[number][0])}")
        identity = _identity(index)
        if reference is None:
            reference = (path, identity)
        else:
            different = [name for name in identity if identity[name] != reference[1][name]]
            if different:
                raise IndexFileError(
                    f"{_name(path)}: differs from {_name(reference[0])} in {', '.join(different)}; the parts of one merge must "
                    "come from the same dataset, options and shardgen version"
                )
        parts[number] = (path, index)
    if len(counts) != 1:
        raise IndexFileError(f"the partial indexes split the work differently (into {sorted(counts)} parts)")
    (count,) = counts
    missing = sorted(set(range(count)) - set(parts))
    if missing:
        raise IndexFileError(f"parts {missing} of {count} are missing (found {sorted(parts)})")
    shards: list[ShardInfo] = []
    tables: list[SampleColumns] = []
    first_shard: list[int] = []
    for number in sorted(parts):
        (directory, _), index = parts[number]
        first_shard.append(len(shards))
        tables.append(index.samples)
        for shard in index.shards:
            shards.append(replace(shard, path=relative_path(directory, shard.path, out)))
    samples = SampleColumns.concatenate(tables, first_shard)
    _refuse_repeated_keys(samples, shards)
    first = parts[0][1]
    merged = DatasetIndex(
        dataset=first.dataset,
        sensor_size=first.sensor_size,
        classes=first.classes,
        shards=shards,
        samples=samples,
        extra=first.extra,
        generator=reference[1]["generator"],  # type: ignore[index]
    )
    return write_index(merged, out, INDEX_NAME)


def _name(path: tuple[str | os.PathLike, str]) -> str:
    directory, name = path
    return f"{os.fspath(directory).rstrip('/')}/{name}"


def _refuse_repeated_keys(samples: SampleColumns, shards: list[ShardInfo]) -> None:
    order = np.argsort(samples.key, kind="stable")
    repeated = np.flatnonzero(samples.key[order][1:] == samples.key[order][:-1])
    if len(repeated):
        first, second = order[repeated[0]], order[repeated[0] + 1]
        raise IndexFileError(
            f"{shards[samples.shard[second]].path}: sample key {samples.key_of(second)!r} is also in "
            f"{shards[samples.shard[first]].path}"
        )
