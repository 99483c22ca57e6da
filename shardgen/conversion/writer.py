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

import collections
import hashlib
import multiprocessing
import queue
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import xxhash

from neuroshards.atomic import create_exclusive, naming_path, temporary_beside
from neuroshards.errors import FormatError
from neuroshards.index import INDEX_NAME, DatasetIndex, SampleColumns, ShardInfo, save_index
from neuroshards.record import EVENTS_MEMBER, LABEL_MEMBER, PackedEvents, RecordError, encode_packed, pack_events
from neuroshards.tar import closed_tar_bytes, member_bytes, member_header, member_padding

try:
    import fcntl  # POSIX: spool folders are locked while their run lives
except ImportError:  # pragma: no cover - Windows: a killed run's spool is left for the user to delete
    fcntl = None  # type: ignore[assignment]

from .. import __version__
from ..datasets.base import Plan, Sample, Task
from ..formats.errors import is_native_panic

SHARD_NAME = re.compile(r"^[A-Za-z0-9_-]+-\d{6}\.tar$")
#: What a split name may be: it becomes part of a file name in ``out``.
SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
#: What a sample key may not hold: path separators, the dot webdataset splits keys at, controls.
KEY_FORBIDDEN = re.compile(r"[/\\.\x00-\x1f]")
SPOOL_PREFIX = ".spool-"
SPOOL_LOCK = "lock"
ON_ERROR = ("raise", "skip")


def part_tag(part: tuple[int, int]) -> str:
    """``(3, 8)`` -> ``"part0003of0008"``: in the shard and partial index names of part 3 of 8."""
    index, count = part
    if not 0 <= index < count:
        raise ValueError(f"part {index}/{count}: the part number must be in 0..{count - 1}")
    return f"part{index:04d}of{count:04d}"


def partial_index_name(part: tuple[int, int]) -> str:
    return f"index.{part_tag(part)}.json"


class ConversionError(FormatError, RuntimeError):
    """A recording that could not be converted: ``source`` (the raw file), ``format``, ``offset``
    where known, ``sample`` (the key being converted) and ``problem``; ``str()`` is one line."""


def conversion_error(error: BaseException, task: Task, sample: str | None) -> ConversionError:
    """``error`` raised while converting ``task`` as a ConversionError keeping its facts."""
    if isinstance(error, ConversionError):
        return error
    if isinstance(error, FormatError):
        return ConversionError(error.source, error.offset, error.problem, format=error.format, sample=error.sample or sample)
    problem = str(error) if isinstance(error, (RecordError, ValueError)) else f"{type(error).__name__}: {error}"
    problem = problem.removeprefix(f"{task.source}: ")  # RawInputError names the file itself
    if is_native_panic(error):
        problem = f"the native decoder panicked ({error})"
    return ConversionError(task.source, None, problem, sample=sample)


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
class EncodedSample:
    key: str
    label: int
    split: str
    record: bytes | memoryview
    n_events: int
    outside_sensor: bool  # some event lies beyond the sensor size (kept as read)


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


def _encode_stream(args: tuple[Task, tuple[int, ...], str | None]) -> Iterator[EncodedSample]:
    """Encode a task's samples one at a time (a long recording cut into many samples is never held).
    Any error of the task's reading (a Rust panic included) is raised as a ConversionError naming
    the file and the sample: the task's key, else the sample after the last one produced."""
    task, sensor_size, compression = args
    current: str | None = None  # the sample being encoded
    done: str | None = None  # the last one encoded
    try:
        for sample in task.run():
            current = sample.key
            encoded = _encode_sample(sample, sensor_size, compression)
            done, current = current, None
            yield encoded
    except BaseException as error:  # noqa: BLE001 - a Rust panic is a BaseException
        if not isinstance(error, Exception) and not is_native_panic(error):
            raise
        key = current or getattr(task, "key", None) or (f"after {done}" if done else None)
        raise conversion_error(error, task, key) from error


SampleFacts = tuple[str, int, str, int, int, bool]  # key, label, split, record bytes, events, outside


def _spool_tasks(batch: list[tuple[tuple[Task, tuple[int, ...], str | None], str]]) -> list[tuple[str, list[SampleFacts]]]:
    """In a worker: encode each task's samples into its spool file beside the shards and return only
    the facts of each sample; the records reach the writer through the page cache, not a pipe."""
    results = []
    for job, spool in batch:
        facts: list[SampleFacts] = []
        failure: ConversionError | None = None
        try:
            with create_exclusive(Path(spool)) as handle:
                try:
                    for sample in _encode_stream(job):
                        handle.write(sample.record)
                        facts.append(
                            (sample.key, sample.label, sample.split, len(sample.record), sample.n_events, sample.outside_sensor)
                        )
                except ConversionError as error:  # the samples before it stand, as with one worker
                    failure = error
        except OSError as error:  # the spool's disk is full or read-only
            Path(spool).unlink(missing_ok=True)
            raise naming_path(error, spool) from error
        except BaseException:
            Path(spool).unlink(missing_ok=True)
            raise
        results.append((spool, facts, failure))
    return results


def _unspool(spool: str, facts: list[SampleFacts], failure: ConversionError | None = None) -> Iterator[EncodedSample]:
    """The samples a worker spooled, read back in order, then the task's error if it had one; the
    spool file is removed once read."""
    try:
        with open(spool, "rb") as handle:
            for key, label, split, size, n_events, outside in facts:
                yield EncodedSample(key, label, split, handle.read(size), n_events, outside)
    finally:
        Path(spool).unlink(missing_ok=True)
    if failure is not None:
        raise failure


def _encode_sample(sample: Sample, sensor_size: tuple[int, ...], compression: str | None) -> EncodedSample:
    """The sample's record (a RecordError names the key; the caller adds the file)."""
    packed = sample.events if isinstance(sample.events, PackedEvents) else pack_events(sample.events, sensor_size, key=sample.key)
    record = encode_packed(packed, sensor_size, compression=compression, key=sample.key)
    return EncodedSample(sample.key, int(sample.label), sample.split, record, packed.n, packed.outside(sensor_size))


class _ShardFile:
    """A tar shard being written: members appended as tarfile lays them out, hashed as they pass,
    so the shard is never read back. Hashing and writing run on a helper thread (both release the
    GIL), overlapping the next sample's decoding and encoding, with at most ``IN_FLIGHT_BYTES``
    handed over and not yet written."""

    IN_FLIGHT_BYTES = 64 << 20
    BATCH_BYTES = 1 << 20

    def __init__(self, path: Path):
        """Write to a fresh temporary file beside ``path`` (see ``neuroshards.atomic.temporary_beside``)."""
        self.path = path
        self.temporary, self.file = temporary_beside(path)
        self.digest = hashlib.sha256()
        self.size = 0
        self._pending: queue.SimpleQueue[tuple[tuple[bytes | memoryview, ...], int] | None] = queue.SimpleQueue()
        self._batch: list[bytes | memoryview] = []
        self._batch_bytes = 0
        self._in_flight = 0
        self._written = threading.Condition()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._drain, name="shard-writer", daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while (batch := self._pending.get()) is not None:
            parts, size = batch
            if self._error is None:
                try:
                    for data in parts:
                        self.digest.update(data)
                        self.file.write(data)
                except OSError as error:  # a full or read-only disk: name the file
                    self._error = naming_path(error, self.temporary)
                except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread
                    self._error = error
            with self._written:
                self._in_flight -= size
                self._written.notify()

    def _write(self, *parts: bytes | memoryview) -> None:
        """Queue ``parts`` to be written; they go over in batches of ``BATCH_BYTES``, as handing
        each small part to the thread would cost more than writing it."""
        size = sum(len(data) for data in parts)
        self._batch += parts
        self._batch_bytes += size
        self.size += size
        if self._batch_bytes >= self.BATCH_BYTES:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._error is not None:
            raise self._error
        parts, size = tuple(self._batch), self._batch_bytes
        self._batch, self._batch_bytes = [], 0
        with self._written:
            while self._in_flight and self._in_flight + size > self.IN_FLIGHT_BYTES:
                self._written.wait()
            self._in_flight += size
        self._pending.put((parts, size))

    def _stop(self) -> None:
        if self._batch and self._error is None:
            self._hand_over()
        self._pending.put(None)
        self._thread.join()
        try:
            self.file.close()
        except OSError as error:
            if self._error is None:
                self._error = naming_path(error, self.temporary)

    def add_sample(self, members: Sequence[tuple[str, bytes | memoryview]]) -> int:
        """Append one sample's members; returns the checksum of the bytes it took (``sample_checksum``)."""
        digest = xxhash.xxh3_64()
        for name, payload in members:
            parts = (member_header(name, len(payload)), payload, member_padding(len(payload)))
            for part in parts:
                digest.update(part)
            self._write(*parts)
        return digest.intdigest()

    def finish(self) -> None:
        """The end-of-archive blocks, padded to the record size (as ``tarfile`` closes an archive)."""
        self._write(bytes(closed_tar_bytes(self.size) - self.size))
        self._stop()
        if self._error is not None:
            raise self._error

    def publish(self) -> None:
        """Rename the complete file to its final name (a symlink there is replaced, not followed)."""
        try:
            self.temporary.replace(self.path)
        except OSError as error:
            raise naming_path(error, self.path) from error

    def discard(self) -> None:
        self._batch.clear()
        self._stop()
        self.temporary.unlink(missing_ok=True)


class ShardSink:
    """Writes one split's samples into a numbered series of tar shards."""

    def __init__(
        self,
        out: Path,
        split: str,
        max_samples: int,
        max_bytes: int,
        name_prefix: str = "",
        on_shard: Callable[[Path], None] | None = None,
    ):
        self.out, self.split, self.name_prefix = out, split, name_prefix
        self.on_shard = on_shard  # told of each finished shard (an upload to object storage)
        self.max_samples, self.max_bytes = max_samples, max_bytes
        self.shards: list[ShardInfo] = []
        self.tables: list[SampleColumns] = []  # one per shard in ``shards``
        self._file: _ShardFile | None = None
        self._table: dict[str, list] = {}

    def add(self, sample: EncodedSample) -> None:
        label = str(sample.label).encode()
        size = member_bytes(len(sample.record)) + member_bytes(len(label))
        if self._file is not None and (
            len(self._table["key"]) >= self.max_samples or closed_tar_bytes(self._file.size + size) > self.max_bytes
        ):
            self._finish()
        if self._file is None:
            self._start()
        assert self._file is not None
        offset = self._file.size
        checksum = self._file.add_sample(
            ((f"{sample.key}.{EVENTS_MEMBER}", sample.record), (f"{sample.key}.{LABEL_MEMBER}", label))
        )
        for column, value in (
            ("key", sample.key),
            ("label", sample.label),
            ("n_events", sample.n_events),
            ("offset", offset),
            ("size", self._file.size - offset),
            ("checksum", checksum),
        ):
            self._table[column].append(value)

    def close(self) -> tuple[list[ShardInfo], list[SampleColumns]]:
        """The shards written, with the sample columns of each (shard numbers still to be assigned)."""
        if self._file is not None:
            self._finish()
        return self.shards, self.tables

    def abort(self) -> None:
        """Drop the shard being written (an error stopped the conversion)."""
        if self._file is not None:
            self._file.discard()
            self._file = None

    def _start(self) -> None:
        if not SPLIT_NAME.match(self.split):  # the writer checks first; this guards other callers
            raise ValueError(f"split {self.split!r} is not a plain name")
        name = f"{self.split}-{self.name_prefix}{len(self.shards):06d}.tar"
        self._file = _ShardFile(self.out / name)
        self._table = {column: [] for column in ("key", "label", "n_events", "offset", "size", "checksum")}

    def _finish(self) -> None:
        assert self._file is not None
        self._file.finish()
        self._file.publish()
        name = self._file.path.name
        self.shards.append(
            ShardInfo(
                path=name,
                split=self.split,
                n_samples=len(self._table["key"]),
                n_events=int(sum(self._table["n_events"])),
                bytes=self._file.size,
                sha256=self._file.digest.hexdigest(),
            )
        )
        self.tables.append(SampleColumns.build({**self._table, "shard": [0] * len(self._table["key"])}))
        self._file = None
        if self.on_shard is not None:
            self.on_shard(self.out / name)


def _encoded_samples(
    tasks: Sequence[Task], sensor_size: tuple[int, ...], options: WriterOptions, spool_dir: Path
) -> Iterator[Iterable[EncodedSample]]:
    """Each task's encoded samples, in plan order. With several workers, tasks run in the pool a
    batch at a time, at most a few batches ahead of the writer (so spooled records stay bounded);
    tasks marked ``streaming`` (many samples cut from one long recording) run lazily in this
    process, so their memory stays bounded by one sample."""
    jobs = [(task, sensor_size, options.compression) for task in tasks]
    if options.workers == 1:
        yield from map(_encode_stream, jobs)
        return
    per_batch = max(1, min(16, len(jobs) // (options.workers * 8)))
    batches = [list(range(first, min(first + per_batch, len(jobs)))) for first in range(0, len(jobs), per_batch)]

    def submit(pool, numbers: list[int]):
        pooled = [(jobs[n], str(spool_dir / f"{n:09d}")) for n in numbers if not getattr(jobs[n][0], "streaming", False)]
        return numbers, (pool.apply_async(_spool_tasks, (pooled,)) if pooled else None)

    with _worker_context().Pool(options.workers) as pool:
        ahead = collections.deque(submit(pool, numbers) for numbers in batches[: 4 * options.workers])
        following = iter(batches[4 * options.workers :])
        while ahead:
            numbers, pending = ahead.popleft()
            spooled = iter(pending.get() if pending is not None else ())
            if (more := next(following, None)) is not None:
                ahead.append(submit(pool, more))
            for n in numbers:
                if getattr(jobs[n][0], "streaming", False):
                    yield _encode_stream(jobs[n])
                else:
                    yield _unspool(*next(spooled))


def _worker_context():
    """Workers fork from a server process that imported the readers once and set numba up: they
    start in milliseconds, and never inherit the caller's threads (progress bar, torch) as plain
    fork would."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(
        ["shardgen.conversion.writer", "shardgen.datasets", "shardgen.formats", "shardgen.formats.numba_warmup"]
    )
    return context


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
    _remove_stale_spools(out)
    started = time.perf_counter()
    sinks: dict[str, ShardSink] = {}
    seen: dict[str, str] = {}
    summary = ConversionSummary(dataset=dataset, out=out)
    progress = _progress(len(plan.tasks), options.progress, dataset)
    spool_dir, spool_lock = _new_spool(out)
    try:
        encoded_tasks = _encoded_samples(plan.tasks, sensor_size, options, spool_dir)
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


def _new_spool(out: Path):
    """A fresh spool folder in ``out`` (unique: parts may convert into one folder at once) and its
    lock, held while this run lives: the next run removes spool folders whose lock is free."""
    try:
        spool_dir = Path(tempfile.mkdtemp(dir=out, prefix=SPOOL_PREFIX))
        lock = create_exclusive(spool_dir / SPOOL_LOCK)
        if fcntl is not None:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    except OSError as error:
        raise naming_path(error, out) from error
    return spool_dir, lock


def _remove_stale_spools(out: Path, grace_seconds: float = 60.0) -> None:
    """Spool folders of runs that were killed (their lock is free; a folder without a lock only once
    older than ``grace_seconds``, as a run creates its lock just after its folder)."""
    if fcntl is None:
        return
    for path in out.glob(SPOOL_PREFIX + "*"):
        if not path.is_dir() or path.is_symlink():
            continue
        try:
            with open(path / SPOOL_LOCK, "rb") as lock:
                try:
                    fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live run's
        except FileNotFoundError:
            if time.time() - path.stat().st_mtime < grace_seconds:
                continue
        except OSError:
            continue
        shutil.rmtree(path, ignore_errors=True)


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
