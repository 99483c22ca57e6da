"""Parallel execution of a conversion: the dataset's tasks run in worker processes (forked from a
preloaded fork server), each encoding its samples into a spool file beside the shards; the writer
reads them back in plan order. Tasks that cut many samples from one long recording run lazily in
the writer's process. Any error of a task's reading is a ``ConversionError`` naming the file and
the sample.
"""

from __future__ import annotations

import collections
import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from neuroshards.atomic import create_exclusive, naming_path
from neuroshards.errors import ConversionError, FormatError
from neuroshards.record import PackedEvents, RecordError, encode_packed, pack_events

from ..datasets.base import Sample, Task
from ..formats.errors import is_native_panic
from .sink import EncodedSample

try:
    import fcntl  # POSIX: spool folders are locked while their run lives
except ImportError:  # pragma: no cover - Windows: a killed run's spool is left for the user to delete
    fcntl = None  # type: ignore[assignment]

SPOOL_PREFIX = ".spool-"
SPOOL_LOCK = "lock"


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


def encoded_samples(
    tasks: Sequence[Task], sensor_size: tuple[int, ...], workers: int, compression: str | None, spool_dir: Path
) -> Iterator[Iterable[EncodedSample]]:
    """Each task's encoded samples, in plan order. With several workers, tasks run in the pool a
    batch at a time, at most a few batches ahead of the writer (so spooled records stay bounded);
    tasks marked ``streaming`` (many samples cut from one long recording) run lazily in this
    process, so their memory stays bounded by one sample."""
    jobs = [(task, sensor_size, compression) for task in tasks]
    if workers == 1:
        yield from map(_encode_stream, jobs)
        return
    per_batch = max(1, min(16, len(jobs) // (workers * 8)))
    batches = [list(range(first, min(first + per_batch, len(jobs)))) for first in range(0, len(jobs), per_batch)]

    def submit(pool, numbers: list[int]):
        pooled = [(jobs[n], str(spool_dir / f"{n:09d}")) for n in numbers if not getattr(jobs[n][0], "streaming", False)]
        return numbers, (pool.apply_async(_spool_tasks, (pooled,)) if pooled else None)

    with _worker_context().Pool(workers) as pool:
        ahead = collections.deque(submit(pool, numbers) for numbers in batches[: 4 * workers])
        following = iter(batches[4 * workers :])
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
        ["shardgen.conversion.parallel", "shardgen.datasets", "shardgen.formats", "shardgen.formats.numba_warmup"]
    )
    return context


def new_spool(out: Path):
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


def remove_stale_spools(out: Path, grace_seconds: float = 60.0) -> None:
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
