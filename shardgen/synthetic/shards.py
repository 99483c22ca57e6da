"""Shard directories for the streaming tests: shards of chosen, uneven sizes whose label is the
sample's number, so a sample can be identified after batching (labels survive collation)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from neuroshards.index import DatasetIndex, SampleColumns, save_index
from neuroshards.record import encode_events
from shardgen.conversion.sink import EncodedSample, ShardSink

SENSOR = (4, 4, 2)


def write_uneven_shards(
    out: Path,
    sizes: Sequence[int],
    *,
    split: str = "train",
    dataset: str = "uneven",
    labels: Sequence[int] | None = None,
    sensor_size: tuple[int, int, int] = SENSOR,
    events: tuple[int, int] = (1, 40),
    duration: int = 1000,
) -> list[str]:
    """Shards of ``sizes`` samples under ``out`` with index.json; returns the keys in storage order.
    Sample ``i`` has label ``labels[i]`` (default: ``i`` itself) and between ``events[0]`` and
    ``events[1] - 1`` events, uniformly random over ``sensor_size`` and ``duration`` microseconds."""
    out.mkdir(parents=True, exist_ok=True)
    staging = out / ".staging"
    rng = np.random.default_rng(len(sizes))
    shards, tables, keys = [], [], []
    number = 0
    for shard_number, count in enumerate(sizes):
        sink = ShardSink(staging, split, max_samples=count, max_bytes=1 << 30)
        staging.mkdir(exist_ok=True)
        for _ in range(count):
            n = int(rng.integers(*events))
            sample = {
                "t": np.sort(rng.integers(0, duration, n)).astype(np.int64),
                "x": rng.integers(0, sensor_size[0], n).astype(np.uint16),
                "y": rng.integers(0, sensor_size[1], n).astype(np.uint16),
                "p": rng.integers(0, sensor_size[2], n).astype(np.uint8),
            }
            key = f"{dataset}_{number:05d}"
            label = number if labels is None else int(labels[number])
            sink.add(EncodedSample(key, label, split, encode_events(sample, sensor_size, key=key), n, False))
            keys.append(key)
            number += 1
        (shard,), (table,) = sink.close()
        name = f"{split}-{shard_number:06d}.tar"
        (staging / shard.path).rename(out / name)
        shards.append(replace(shard, path=name))
        tables.append(table)
    staging.rmdir()
    samples = SampleColumns.concatenate(tables, range(len(tables)))
    classes = [str(i) for i in range(number if labels is None else max(labels) + 1)]
    save_index(DatasetIndex(dataset, list(sensor_size), classes, shards, samples), out)
    return keys
