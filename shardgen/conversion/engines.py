"""Conversion on a distributed engine: ``shardgen convert ... --engine ray``.

The engine adds no conversion code of its own: it runs the ``--part i/n`` machinery that Slurm
arrays and torchrun use (``shardgen.convert(..., part=(i, n))``), one Ray task per part, each
writing its shards and partial index straight into ``out``, then one more task merges the parts
(``shardgen.conversion.merge.merge_parts``). The samples are those of a one-process run; only the shard
names and boundaries differ (each part fills its own shards).

Why Ray rather than Dask distributed: a part is a long, coarse task (minutes of decoding and
writing a few GB), not a graph of small array operations, so Dask's scheduler and collections
bring nothing; Ray's tasks carry a CPU reservation (``num_cpus`` = the part's worker processes),
are re-run on another node when a node dies (a part is idempotent: a rerun replaces its own
shards), and a cluster is one ``ray start --head`` / ``ray start --address`` per node or the
KubeRay / Slurm recipes that training clusters already use. Dask would do the same with
``client.submit`` per part; Ray was chosen because it is the engine more of our users' training
clusters already run.

Everything touching the raw data and ``out`` runs on the cluster (verification, planning, parts,
merge), so the driver needs neither: ``raw`` must be readable from every node (a shared file
system) and ``out`` writable from every node (a shared file system, or an object storage URL,
passed through unchanged to every part and to the merge, with each node's own credentials).
"""

from __future__ import annotations

import logging
import re
import socket
import time
from pathlib import Path
from typing import Any

from neuroshards.errors import EngineError

from .sink import SHARD_NAME, partial_index_name
from .writer import ConversionSummary

ENGINES = ("local", "ray")
PARTIAL_INDEX = re.compile(r"^index\.part\d{4}of\d{4}\.(json|samples)$")


def convert_on_engine(engine: str, *args: Any, part: tuple[int, int] | None = None, **options: Any) -> ConversionSummary:
    """``shardgen.convert(..., engine=...)``: the arguments checked, then the engine's conversion."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "local":
        raise ValueError("ray_address and parts are for engine='ray' (one machine: workers=N; by hand: part=(i, n))")
    if part is not None:
        raise ValueError("part=(i, n) converts one part by hand; the ray engine runs every part itself (parts=n)")
    return convert_on_ray(*args, **options)


def convert_on_ray(
    dataset: str,
    raw: str | Path,
    out: str | Path,
    *,
    address: str | None = None,
    parts: int | None = None,
    workers: int = 1,
    max_samples: int = 2000,
    max_bytes: int = 256 << 20,
    compression: str | None = None,
    verify: bool = True,
    progress: bool = True,
    on_error: str = "raise",
    **dataset_options: Any,
) -> ConversionSummary:
    """Convert ``dataset`` on the Ray cluster at ``address`` in ``parts`` parts (default: one per
    ``workers`` CPUs of the cluster, at most one per recording), then merge them into
    ``out/index.json``. ``address=None`` uses the Ray connection this process already has, or
    else connects as ``ray.init()`` does (``RAY_ADDRESS``, a running local cluster, or a new one).
    The other arguments are ``shardgen.convert``'s, given to every part. Returns the merged summary."""
    try:
        import ray
    except ImportError:
        raise EngineError('the ray engine needs Ray: pip install "neuroshards[ray]"') from None
    if parts is not None and parts < 1:
        raise ValueError(f"parts must be positive, got {parts}")
    started = time.perf_counter()
    _check_reachable(address)
    connected_here = not ray.is_initialized()
    if connected_here:
        try:
            ray.init(address=address, logging_level=logging.WARNING, include_dashboard=False)
        except ConnectionError as error:
            raise EngineError(f"cannot reach the Ray cluster at {address}: {error}") from None
    try:
        remote = ray.remote(num_cpus=0)
        recordings = _result(ray, remote(_prepare).remote(dataset, raw, verify, dataset_options), "checking --raw")
        if parts is None:
            cpus = int(ray.cluster_resources().get("CPU", 1))
            parts = max(1, cpus // workers)
        parts = max(1, min(parts, recordings))
        options = dict(
            workers=workers,
            max_samples=max_samples,
            max_bytes=max_bytes,
            compression=compression,
            on_error=on_error,
            **dataset_options,
        )
        convert_part = ray.remote(_convert_part).options(num_cpus=workers)
        labels = {
            convert_part.remote(dataset, raw, out, (number, parts), options): f"part {number}/{parts}" for number in range(parts)
        }
        pending = list(labels)
        summaries = []
        try:
            with _progress(parts, progress, dataset) as bar:
                while pending:
                    done, pending = ray.wait(pending, num_returns=1)
                    summaries.append(_result(ray, done[0], labels[done[0]]))
                    bar.update(1)
        finally:
            for reference in pending:  # one part failed: the others' work would be thrown away
                ray.cancel(reference, force=True)
        merged = _result(ray, remote(_merge).remote(out, parts), "merging the parts")
    finally:
        if connected_here:
            ray.shutdown()
    return ConversionSummary(
        dataset=summaries[0].dataset,
        out=out,  # type: ignore[arg-type]  # a local folder or a URL, as given
        n_samples=sum(summary.n_samples for summary in summaries),
        n_events=sum(summary.n_events for summary in summaries),
        n_shards=sum(entry["n_shards"] for entry in merged.values()),
        bytes=sum(summary.bytes for summary in summaries),
        seconds=time.perf_counter() - started,
        splits=merged,
        samples_outside_sensor=sum(summary.samples_outside_sensor for summary in summaries),
    )


def _check_reachable(address: str | None) -> None:
    """Refuse a ``host:port`` address where nothing listens, at once: Ray itself retries for minutes."""
    if not address or "://" in address or address in ("auto", "local"):
        return
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except ValueError:
        raise EngineError(f"not a Ray cluster address: {address!r} (host:port, or ray://host:port)") from None
    except OSError as error:
        raise EngineError(f"cannot reach the Ray cluster at {address}: {error.strerror or error}") from None


def _result(ray, reference, what: str):
    """The task's value; a task's own error (a bad recording, a missing folder) is raised as the
    original exception with its message, not as Ray's wrapper carrying the remote traceback; a
    failure of the cluster (a worker or node lost past Ray's retries) as an EngineError."""
    try:
        return ray.get(reference)
    except ray.exceptions.RayTaskError as error:
        if isinstance(error.cause, Exception):
            raise error.cause from None
        raise EngineError(f"{what} failed on the Ray cluster: {error}") from None
    except ray.exceptions.RayError as error:
        raise EngineError(f"{what} failed on the Ray cluster: {error}") from None


# The tasks: module-level functions, so Ray ships them by reference (every node imports shardgen).


def _prepare(dataset: str, raw: str | Path, verify: bool, dataset_options: dict[str, Any]) -> int:
    """Check the archives' MD5s once for all parts; return the number of recordings (tasks)."""
    from ..datasets import get_dataset

    adapter = get_dataset(dataset)(**dataset_options)
    if verify:
        adapter.verify(raw)
    return len(adapter.plan(raw).tasks)


def _convert_part(
    dataset: str, raw: str | Path, out: str | Path, part: tuple[int, int], options: dict[str, Any]
) -> ConversionSummary:
    from .. import convert

    return convert(dataset, raw, out, verify=False, progress=False, part=part, **options)


def _merge(out: str | Path, parts: int) -> dict[str, dict[str, int]]:
    """Merge this run's parts; first remove the partial indexes an earlier run into the same output
    left with another number of parts (the merge would refuse the mixture), and afterwards the
    shards the merged index does not name, as a one-process rerun does."""
    from neuroshards.index import INDEX_NAME

    from .merge import merge_parts
    from .storage import list_names, read_index, remove_names

    ours = {partial_index_name((number, parts)) for number in range(parts)}
    ours |= {name.removesuffix(".json") + ".samples" for name in ours}
    remove_names(out, [name for name in list_names(out, "index.part*") if PARTIAL_INDEX.match(name) and name not in ours])
    merge_parts([out], out)
    index = read_index(out, INDEX_NAME)
    keep = {shard.path for shard in index.shards}
    remove_names(out, [name for name in list_names(out, "*.tar") if SHARD_NAME.match(name) and name not in keep])
    return index.splits


def _progress(total: int, enabled: bool, label: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=f"convert {label} on ray", unit="part", dynamic_ncols=True)
