"""Blocks, chunks and kernel helpers shared by the readers.

``record_blocks`` reads a binary stream in bounded blocks of whole fixed-size records with exact
byte offsets (AEDAT 2.0 records, Prophesee EVT 2.0/3.0 words, DAT events): memory stays bounded by
one block whatever the file size, and a file that ends inside a record is a FormatError naming the
offset where the incomplete record starts. ``new_events``, ``concatenate``, ``split_chunk`` and
``rechunk`` build, join and regroup event chunks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

import numpy as np
from numba import njit

from .errors import FormatError

#: Start value of a running minimum of int64 timestamps in the numba kernels.
NO_TIME = np.iinfo(np.int64).max


@njit(cache=True, inline="always")
def set_bit(bits, index, bit):
    """Bit ``index`` of a little-endian packed bit array (``np.packbits(..., bitorder="little")``)
    written in order: each byte is cleared when its first bit is written."""
    byte = index >> 3
    if index & 7 == 0:
        bits[byte] = 0
    bits[byte] |= bit << (index & 7)


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
    rest, exhausted = bytes(pending), False
    while True:
        parts, size = [rest] if rest else [], len(rest)
        while not exhausted and size < block_bytes:
            more = stream.read(block_bytes - size)
            exhausted = not more
            if more:
                parts.append(more)
                size += len(more)
        # The usual block is one read, handed on as it is: no copy.
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        whole = min(len(data), block_bytes)
        if exhausted and whole % record_bytes:
            whole -= whole % record_bytes
            raise FormatError(
                source,
                offset + whole,
                f"file ends inside a {record_bytes}-byte record ({len(data) - whole} trailing bytes): truncated",
            )
        if whole:
            yield offset, data if whole == len(data) else data[:whole]
            offset += whole
        rest = data[whole:]
        if exhausted and not rest:
            return


def at_least_one_chunk(chunks: Callable[..., Iterator[dict[str, np.ndarray]]]) -> Callable[..., Iterator[dict[str, np.ndarray]]]:
    """A reader's ``chunks`` generator that yields one empty chunk when the file holds no events,
    as every reader does (consumers never meet an empty iterator)."""

    @functools.wraps(chunks)
    def at_least_one(*args, **kwargs) -> Iterator[dict[str, np.ndarray]]:
        empty = True
        for chunk in chunks(*args, **kwargs):
            empty = False
            yield chunk
        if empty:
            yield new_events(0)

    return at_least_one


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


def concatenate(chunks: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Chunks joined into one event dict (for recordings or samples that fit in memory); empty
    chunks add nothing, a single chunk is returned as it is, no chunk gives an empty one."""
    parts = [chunk for chunk in chunks if len(chunk["t"])]
    if not parts:
        return new_events(0)
    if len(parts) == 1:
        return parts[0]
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def rechunk(pieces: Iterable[dict[str, np.ndarray]], max_events: int) -> Iterator[dict[str, np.ndarray]]:
    """Event dicts of any sizes regrouped into chunks of ``max_events`` (the last one smaller);
    one empty chunk when there are no events."""
    max_events = max(1, max_events)
    parts: list[dict[str, np.ndarray]] = []
    held = 0
    produced = False
    for piece in pieces:
        if not len(piece["t"]):
            continue
        parts.append(piece)
        held += len(piece["t"])
        if held < max_events:
            continue
        joined = concatenate(parts)
        start = 0
        while held - start >= max_events:
            yield {name: values[start : start + max_events] for name, values in joined.items()}
            start += max_events
            produced = True
        parts = [{name: values[start:] for name, values in joined.items()}] if held > start else []
        held -= start
    if held or not produced:
        yield concatenate(parts)
