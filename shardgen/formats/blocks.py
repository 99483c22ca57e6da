"""Reading a binary stream in bounded blocks of whole fixed-size records, with exact byte offsets.

Shared by the fixed-width binary readers (Prophesee EVT 2.0/3.0 words, DAT events): memory stays
bounded by one block whatever the file size, and a file that ends inside a record is a FormatError
naming the offset where the incomplete record starts.
"""

from __future__ import annotations

from typing import BinaryIO, Iterator

import numpy as np

from .errors import FormatError


def record_blocks(
    stream: BinaryIO,
    *,
    source: str,
    record_bytes: int,
    records_per_block: int,
    offset: int,
    pending: bytes = b"",
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(byte offset, data)`` with ``len(data)`` a multiple of ``record_bytes``.

    ``offset`` is the file offset of the first byte (``pending`` holds bytes already read past it,
    e.g. while parsing a header). Yields nothing for an empty payload.
    """
    block_bytes = max(1, records_per_block) * record_bytes
    buffer = bytearray(pending)
    exhausted = False
    while True:
        while not exhausted and len(buffer) < block_bytes:
            more = stream.read(block_bytes - len(buffer))
            exhausted = not more
            buffer += more
        whole = min(len(buffer), block_bytes)
        if exhausted and whole % record_bytes:
            whole -= whole % record_bytes
            raise FormatError(
                source,
                offset + whole,
                f"file ends inside a {record_bytes}-byte record ({len(buffer) - whole} trailing bytes): truncated",
            )
        if whole:
            yield offset, bytes(buffer[:whole])
            offset += whole
            del buffer[:whole]
        if exhausted and not buffer:
            return


def new_events(n: int) -> dict[str, np.ndarray]:
    """Uninitialised canonical event arrays of length ``n`` (``new_events(0)``: an empty chunk)."""
    return {
        "t": np.empty(n, np.int64),
        "x": np.empty(n, np.uint16),
        "y": np.empty(n, np.uint16),
        "p": np.empty(n, np.uint8),
    }


def split_chunk(events: dict[str, np.ndarray], max_events: int) -> Iterator[dict[str, np.ndarray]]:
    """``events`` in pieces of at most ``max_events``."""
    n = len(events["t"])
    for start in range(0, n, max_events):
        yield {name: values[start : start + max_events] for name, values in events.items()}
