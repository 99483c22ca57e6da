"""NumPy ``.npy`` and ``.npz`` event files, read in chunks (never loaded whole).

Accepted layouts: a structured array with fields t, x, y, p (common spellings, see ``columns``);
a 2-D ``(N, 4)`` array whose columns are given by ``columns`` (default ``"txyp"``); in a ``.npz``,
either one such array or four 1-D arrays named t, x, y, p. Object arrays are refused (loading
them would unpickle, which runs code).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from .blocks import at_least_one_chunk
from .columns import ColumnFileReader, canonical_events, match_columns
from .errors import FormatError, guarded
from .registry import FormatSpec, register_format, starts_with

NPY_MAGIC = b"\x93NUMPY"


class NpyStream:
    """One ``.npy`` payload: its header, then rows read in blocks with exact byte offsets."""

    def __init__(self, stream: BinaryIO, *, source: str):
        self.stream, self.source = stream, source
        try:
            version = np.lib.format.read_magic(stream)
            reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            self.shape, fortran, self.dtype = reader(stream)
        except (ValueError, EOFError, OSError) as error:
            raise FormatError(source, 0, f"not a valid .npy header ({error})") from None
        if self.dtype.hasobject:
            raise FormatError(source, 0, "object arrays are refused: loading them would unpickle (run code)")
        if fortran and len(self.shape) > 1:
            raise FormatError(source, 0, "Fortran-ordered 2-D arrays cannot be streamed; save with C order")
        self.data_offset = stream.tell()
        self.row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:], dtype=np.int64))
        self.rows = int(self.shape[0]) if self.shape else 1

    def blocks(self, rows_per_block: int) -> Iterator[np.ndarray]:
        offset = self.data_offset
        for start in range(0, self.rows, rows_per_block):
            rows = min(rows_per_block, self.rows - start)
            data = self.stream.read(rows * self.row_bytes)
            if len(data) != rows * self.row_bytes:
                whole = len(data) - len(data) % max(self.row_bytes, 1)
                raise FormatError(
                    self.source,
                    offset + whole,
                    f"array of {self.rows} rows ends after {start + whole // self.row_bytes}: truncated",
                )
            offset += len(data)
            yield np.frombuffer(data, self.dtype).reshape((rows, *self.shape[1:]))


def _columns_of(block: np.ndarray, names: dict[str, str] | None, order: str) -> dict[str, np.ndarray]:
    if names is not None:
        return {canonical: block[actual] for canonical, actual in names.items()}
    return {name: block[:, order.index(name)] for name in "txyp"}


def _layout(array: NpyStream, order: str) -> dict[str, str] | None:
    """Field names of a structured array, or None for a 2-D column array; else FormatError."""
    if array.dtype.names:
        names = match_columns(array.dtype.names)
        if names is None:
            raise FormatError(array.source, 0, f"structured array fields {array.dtype.names} lack t, x, y, p")
        return names
    if len(array.shape) == 2 and array.shape[1] == len(order):
        return None
    raise FormatError(array.source, 0, f"array of shape {array.shape} is neither structured nor (N, {len(order)}) columns")


class NumpyReader(ColumnFileReader):
    format_name = "npy"

    @guarded()
    @at_least_one_chunk
    def chunks(self, max_events: int = 1 << 20) -> Iterator[dict[str, np.ndarray]]:
        head = self.stream.read(len(NPY_MAGIC))
        self.stream.seek(0)
        if head == NPY_MAGIC:
            yield from self._single(NpyStream(self.stream, source=self.source), max_events)
            return
        try:
            archive = zipfile.ZipFile(self.stream)
        except zipfile.BadZipFile as error:
            raise FormatError(self.source, 0, f"neither .npy nor .npz ({error})") from None
        with archive:
            members = [name for name in archive.namelist() if name.endswith(".npy")]
            by_name = match_columns(name[:-4] for name in members)
            if by_name is not None:
                yield from self._columns(archive, by_name, max_events)
            elif len(members) == 1:
                with archive.open(members[0]) as member:
                    yield from self._single(NpyStream(member, source=f"{self.source}:{members[0]}"), max_events)
            else:
                raise FormatError(self.source, None, f".npz members {members} are neither t, x, y, p columns nor one array")

    def _single(self, array: NpyStream, max_events: int) -> Iterator[dict[str, np.ndarray]]:
        names = _layout(array, self.order)
        for index, block in enumerate(array.blocks(max_events)):
            where = f"events {index * max_events}..{index * max_events + len(block) - 1}"
            yield canonical_events(
                _columns_of(block, names, self.order), time_unit=self.time_unit, source=array.source, where=where
            )

    def _columns(self, archive: zipfile.ZipFile, names: dict[str, str], max_events: int) -> Iterator[dict[str, np.ndarray]]:
        members = {canonical: archive.open(actual + ".npy") for canonical, actual in names.items()}
        try:
            arrays = {c: NpyStream(m, source=f"{self.source}:{names[c]}.npy") for c, m in members.items()}
            lengths = {c: a.rows for c, a in arrays.items()}
            if len(set(lengths.values())) != 1 or any(len(a.shape) != 1 for a in arrays.values()):
                raise FormatError(self.source, None, f".npz columns differ in shape: { {c: a.shape for c, a in arrays.items()} }")
            streams = [arrays[c].blocks(max_events) for c in "txyp"]
            for index, blocks in enumerate(zip(*streams)):
                where = f"events {index * max_events}..{index * max_events + len(blocks[0]) - 1}"
                yield canonical_events(dict(zip("txyp", blocks)), time_unit=self.time_unit, source=self.source, where=where)
        finally:
            for member in members.values():
                member.close()


register_format(
    FormatSpec(
        name="npy", suffixes=(".npy", ".npz"), open=NumpyReader, sniff=starts_with(NPY_MAGIC), description="NumPy .npy/.npz"
    )
)
