"""shardgen: raw neuromorphic recordings -> WebDataset tar shards of msgpack event records.

The public API: ``convert`` (a dataset, or your own recordings, to shards: locally, in parts, or
on a Ray cluster), ``merge_parts``, ``reindex``, ``verify_dataset``, ``DATASETS`` (what converts),
the index (``load_index``, ``DatasetIndex``), the conversion summary and every error a
conversion raises. Layers: ``formats`` (raw readers, one module per format) -> ``datasets`` (the
published datasets' files, labels and splits) -> ``writer`` (parallel conversion into shards),
``storage`` (folders and object storage), ``merge``/``reindex``/``verify``, ``engines`` (Ray), ``cli``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from neuroshards import __version__
from neuroshards.index import INDEX_NAME, DatasetIndex, load_index


def convert(
    dataset: str,
    raw: str | Path,
    out: str | Path,
    *,
    workers: int = 1,
    max_samples: int = 2000,
    max_bytes: int = 256 << 20,
    compression: str | None = None,
    verify: bool = True,
    progress: bool = True,
    part: tuple[int, int] | None = None,
    engine: str = "local",
    ray_address: str | None = None,
    parts: int | None = None,
    on_error: str = "raise",
    **dataset_options: Any,
):
    """Convert a dataset as downloaded (archives or extracted folder at ``raw``) into shards at ``out``.

    ``verify`` checks the MD5 of the distributed archives found under ``raw``. ``part=(i, n)``
    converts only part i (0-based) of n; ``shardgen.conversion.merge.merge_parts`` joins the parts. Returns a
    ``ConversionSummary``; the shards and ``index.json`` are in ``out``, a folder or an object
    storage URL (``s3://bucket/prefix``, ``gs://...``, ``az://...``: see ``shardgen.conversion.storage``).
    ``engine="ray"`` converts in ``parts`` parts on the Ray cluster at ``ray_address`` and merges
    them (``shardgen.conversion.engines``).

    Errors: a recording that cannot be read raises ``shardgen.ConversionError`` (a
    ``FormatError``: file, format, byte offset, sample); with ``on_error="skip"`` it is left out
    and listed in ``summary.skipped`` and in the index (``generator.options.skipped``). Writing
    errors (full or read-only disk) are OSErrors naming the path.
    """
    if engine != "local" or ray_address is not None or parts is not None:
        from .conversion.engines import convert_on_engine

        return convert_on_engine(
            engine,
            dataset,
            raw,
            out,
            address=ray_address,
            parts=parts,
            part=part,
            workers=workers,
            max_samples=max_samples,
            max_bytes=max_bytes,
            compression=compression,
            verify=verify,
            progress=progress,
            on_error=on_error,
            **dataset_options,
        )
    from .conversion.sink import part_tag, partial_index_name
    from .conversion.storage import output_target
    from .conversion.writer import WriterOptions, write_shards
    from .datasets import get_dataset

    adapter = get_dataset(dataset)(**dataset_options)
    options = WriterOptions(
        max_samples=max_samples,
        max_bytes=max_bytes,
        compression=compression,
        workers=workers,
        progress=progress,
        on_error=on_error,
    )
    with output_target(out) as target:  # an unusable --out fails here, before any work
        if verify:
            adapter.verify(raw)
        summary = write_shards(
            adapter.plan(raw),
            target.staging,
            dataset=adapter.name,
            sensor_size=adapter.sensor_size,
            options=options,
            generator_options={"dataset_options": adapter.options},
            part=part,
            on_shard=target.on_shard,
        )
        target.publish(INDEX_NAME if part is None else partial_index_name(part), "" if part is None else part_tag(part))
    summary.out = target.location
    return summary


from neuroshards.errors import (  # noqa: E402
    ConversionError,
    EngineError,
    FormatError,
    NeuroshardsError,
    RawInputError,
    SliceError,
)

from .conversion.merge import merge_parts  # noqa: E402
from .conversion.reindex import reindex  # noqa: E402
from .conversion.verify import verify_dataset  # noqa: E402
from .conversion.writer import ConversionSummary  # noqa: E402
from .datasets import DATASETS  # noqa: E402

__all__ = [
    "DATASETS",
    "ConversionError",
    "ConversionSummary",
    "DatasetIndex",
    "EngineError",
    "FormatError",
    "NeuroshardsError",
    "RawInputError",
    "SliceError",
    "__version__",
    "convert",
    "load_index",
    "merge_parts",
    "reindex",
    "verify_dataset",
]
