"""The shard writer: runs a dataset plan's tasks in parallel and writes tar shards plus index.json.

Output is byte-identical for identical input whatever the number of workers: samples are written
in plan order (workers run batches of tasks a few batches ahead), tar headers carry fixed metadata,
and the index holds no timestamps.
Every shard is written under a temporary name and renamed when complete; the index is written
last, so an interrupted run leaves no index that points at half-written shards and can be rerun.

Error behaviour: a recording that cannot be read raises :class:`ConversionError` (a FormatError:
file, format, byte offset where known, and the sample), or, with ``on_error="skip"``, is left out
and listed in the summary and in the index (``generator.options.skipped``); the samples a
recording completed before its error are kept (a sample is never written in part). Split names and
sample keys must be plain names (letters, digits, ``_``, ``-``; keys also ``.``-free), so nothing is
written outside ``out``. Temporary files are created exclusively (``O_EXCL | O_NOFOLLOW``, never
through a planted symlink). Writing errors (a full or read-only disk) are OSErrors naming the path.
The workers' spool folder (``out/.spool-*``) is removed when the run ends, fails or is interrupted,
and one left by a killed run is removed by the next run in the same folder.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from neuroshards.atomic import naming_path
from neuroshards.errors import ConversionError
from neuroshards.index import INDEX_NAME, DatasetIndex, SampleColumns, save_index

from .. import __version__
from ..datasets.base import Plan, Task
from .parallel import encoded_samples, new_spool, remove_stale_spools
from .sink import SHARD_NAME, SPLIT_NAME, EncodedSample, ShardSink, part_tag, partial_index_name

KEY_FORBIDDEN = re.compile(r"[/\\.\x00-\x1f]")
ON_ERROR = ("raise", "skip")


@dataclass(frozen=True)
class WriterOptions:
    max_samples: int = 2000
    max_bytes: int = 256 << 20
    compression: str | None = None
    workers: int = 1
    progress: bool = True
    #: "raise": the first bad recording stops the conversion; "skip": it is left out and listed.
    on_error: str = "raise"

    def __post_init__(self):
        if self.max_samples < 1 or self.max_bytes < 1 or self.workers < 1:
            raise ValueError("max_samples, max_bytes and workers must be positive")
        if self.on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {self.on_error!r}")


@dataclass
class ConversionSummary:
    dataset: str
    out: Path | str  # a folder, or the object storage URL the shards were published to
    n_samples: int = 0
    n_events: int = 0
    n_shards: int = 0
    bytes: int = 0
    seconds: float = 0.0
    splits: dict[str, dict[str, int]] = field(default_factory=dict)
    samples_outside_sensor: int = 0
    #: With on_error="skip": {"source", "sample", "error"} of every recording or sample left out.
    skipped: list[dict[str, str | None]] = field(default_factory=list)

    def describe(self) -> str:
        rate = self.n_events / self.seconds if self.seconds else 0.0
        lines = [
            f"{self.dataset}: {self.n_samples} samples, {self.n_events} events in {self.n_shards} shards, "
            f"{self.bytes / 1e6:.2f} MB ({self.bytes / max(self.n_events, 1):.2f} bytes/event) -> {self.out}",
            f"  {self.seconds:.2f} s, {rate / 1e6:.1f} M events/s, {self.n_samples / max(self.seconds, 1e-9):.0f} samples/s",
        ]
        for split, entry in self.splits.items():
            lines.append(f"  split {split}: {entry['n_samples']} samples in {entry['n_shards']} shards")
        if self.samples_outside_sensor:
            lines.append(f"  warning: {self.samples_outside_sensor} samples hold events outside the sensor size; kept as read")
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} (on error: skip):")
            lines += [f"    {entry['error']}" for entry in self.skipped]
        return "\n".join(lines)


def write_shards(
    plan: Plan,
    out: str | Path,
    *,
    dataset: str,
    sensor_size: tuple[int, ...],
    options: WriterOptions = WriterOptions(),
    generator_options: dict[str, Any] | None = None,
    part: tuple[int, int] | None = None,
    on_shard: Callable[[Path], None] | None = None,
) -> ConversionSummary:
    """Run ``plan`` and write its samples as shards under ``out`` with an ``index.json``.

    ``on_shard(path)`` is called with each shard as soon as it is complete (``shardgen.conversion.storage``
    uploads it from there to object storage).

    ``part=(i, n)`` converts every n-th task from the i-th on (a deterministic 1/n of the
    recordings), names the shards ``<split>-part000iof000n-NNNNNN.tar`` and writes the partial
    index ``index.part000iof000n.json``; ``shardgen merge`` joins the parts' indexes.
    """
    out = Path(out)
    prefix = ""
    if part is not None:
        prefix = part_tag(part) + "-"
        plan = replace(plan, tasks=list(plan.tasks[part[0] :: part[1]]))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise naming_path(error, out) from error
    remove_stale_spools(out)
    started = time.perf_counter()
    sinks: dict[str, ShardSink] = {}
    seen: dict[str, str] = {}
    summary = ConversionSummary(dataset=dataset, out=out)
    progress = _progress(len(plan.tasks), options.progress, dataset)
    spool_dir, spool_lock = new_spool(out)
    try:
        encoded_tasks = encoded_samples(plan.tasks, sensor_size, options.workers, options.compression, spool_dir)
        for task in plan.tasks:
            samples = iter(next(encoded_tasks))
            while True:
                try:
                    sample = next(samples, None)
                    if sample is None:
                        break
                    _check_sample(sample, task, seen, len(plan.classes))
                except ConversionError as error:
                    if options.on_error != "skip":
                        raise
                    summary.skipped.append({"source": error.source, "sample": error.sample, "error": str(error)})
                    continue
                seen[sample.key] = task.source
                sink = sinks.get(sample.split)
                if sink is None:
                    sink = sinks[sample.split] = ShardSink(
                        out, sample.split, options.max_samples, options.max_bytes, prefix, on_shard
                    )
                sink.add(sample)
                summary.n_samples += 1
                summary.n_events += sample.n_events
                summary.samples_outside_sensor += sample.outside_sensor
            progress.update(1)
        closed = [sinks[split].close() for split in sorted(sinks)]
        shards = [shard for split_shards, _ in closed for shard in split_shards]
        tables = [table for _, split_tables in closed for table in split_tables]
    except BaseException:
        for sink in sinks.values():
            sink.abort()
        raise
    finally:
        progress.close()
        shutil.rmtree(spool_dir, ignore_errors=True)
        spool_lock.close()
    generator = {
        "max_samples": options.max_samples,
        "max_bytes": options.max_bytes,
        "compression": options.compression,
        **(generator_options or {}),
        **({"part": list(part)} if part is not None else {}),
    }
    if options.on_error == "skip":
        generator["skipped"] = summary.skipped
    index = DatasetIndex(
        dataset=dataset,
        sensor_size=list(sensor_size),
        classes=list(plan.classes),
        shards=shards,
        samples=SampleColumns.concatenate(tables, range(len(tables))),
        extra=plan.extra,
        generator={"name": "shardgen", "version": __version__, "options": generator},
    )
    name = INDEX_NAME if part is None else partial_index_name(part)
    try:
        save_index(index, out, name)
    except OSError as error:
        raise naming_path(error, out / name) from error
    _remove_stale_shards(out, {shard.path for shard in shards}, prefix)
    summary.n_shards = len(shards)
    summary.bytes = sum(shard.bytes for shard in shards)
    summary.splits = index.splits
    summary.seconds = time.perf_counter() - started
    return summary


def _check_sample(sample: EncodedSample, task: Task, seen: dict[str, str], n_classes: int) -> None:
    """A ConversionError for a sample that cannot be written: a split or key that is not a plain
    name (it would leave ``out`` or break the tar layout), a repeated key, a label outside the classes."""
    if not SPLIT_NAME.match(sample.split):
        raise ConversionError(
            task.source,
            None,
            f"split {sample.split!r} is not a plain name (letters, digits, '_', '-'): "
            "it would name files outside the output folder",
            sample=sample.key,
        )
    if not sample.key or KEY_FORBIDDEN.search(sample.key):
        raise ConversionError(
            task.source, None, f"sample key {sample.key!r} holds '/', '\\', '.' or control characters", sample=sample.key
        )
    if sample.key in seen:
        raise ConversionError(
            task.source, None, f"sample key {sample.key!r} already came from {seen[sample.key]}", sample=sample.key
        )
    if not 0 <= sample.label < n_classes:
        raise ConversionError(task.source, None, f"label {sample.label} is outside the {n_classes} classes", sample=sample.key)


def _remove_stale_shards(out: Path, keep: set[str], prefix: str = "") -> None:
    """Shards, and temporary shards of a crashed run, left in the same folder by an earlier run and
    not rewritten by this one (of this part only, when converting a part: the other parts may be
    writing into the folder at the same time)."""
    for path in out.iterdir():
        if prefix not in path.name:
            continue
        if (SHARD_NAME.match(path.name) and path.name not in keep) or (
            path.name.startswith(".") and ".tar." in path.name and path.name.endswith(".tmp")
        ):
            path.unlink()


def _progress(total: int, enabled: bool, label: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=f"convert {label}", unit="file", dynamic_ncols=True)
