"""shardgen: raw neuromorphic recordings -> WebDataset tar shards of msgpack event records."""

from __future__ import annotations

__version__ = "0.1.0"

from pathlib import Path
from typing import Any

from .index import DatasetIndex, load_index


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
    on_error: str = "raise",
    **dataset_options: Any,
):
    """Convert a dataset as downloaded (archives or extracted folder at ``raw``) into shards at ``out``.

    ``verify`` checks the MD5 of the distributed archives found under ``raw``. ``part=(i, n)``
    converts only part i (0-based) of n; ``shardgen.merge.merge_parts`` joins the parts. Returns a
    ``ConversionSummary``; the shards and ``index.json`` are in ``out``.

    Errors: a recording that cannot be read raises ``shardgen.writer.ConversionError`` (a
    ``FormatError``: file, format, byte offset, sample); with ``on_error="skip"`` it is left out
    and listed in ``summary.skipped`` and in the index (``generator.options.skipped``). Writing
    errors (full or read-only disk) are OSErrors naming the path.
    """
    from .datasets import get_dataset
    from .writer import WriterOptions, write_shards

    adapter = get_dataset(dataset)(**dataset_options)
    if verify:
        adapter.verify(raw)
    plan = adapter.plan(raw)
    options = WriterOptions(
        max_samples=max_samples, max_bytes=max_bytes, compression=compression, workers=workers, progress=progress,
        on_error=on_error,
    )
    return write_shards(
        plan,
        out,
        dataset=adapter.name,
        sensor_size=adapter.sensor_size,
        options=options,
        generator_options={"dataset_options": adapter.options},
        part=part,
    )


__all__ = ["DatasetIndex", "__version__", "convert", "load_index"]
