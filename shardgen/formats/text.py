"""Text/CSV event files: one event per line, four numbers (``t x y p`` by default), read in chunks.

Separators may be any mix of spaces, tabs, commas and semicolons. Leading lines starting with
``#`` or ``%`` are comments. An optional header line of column names (e.g. ``timestamp,x,y,polarity``)
gives the column order; otherwise ``columns`` does (default ``"txyp"``). Timestamps in another
unit than microseconds (e.g. seconds as decimals, as the RPG Event Camera Dataset ships) need
``time_unit``. Parsing is vectorised per block of lines; a malformed line is a FormatError naming
its byte offset.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numba import njit

from .blocks import at_least_one_chunk
from .columns import ColumnFileReader, canonical_events, match_columns
from .errors import FormatError, guarded
from .registry import FormatSpec, register_format

_SEPARATORS = bytes.maketrans(b",;\t\r", b"    ")
_SPACE, _NEWLINE = ord(" "), ord("\n")
BLOCK_BYTES = 1 << 22


class TextReader(ColumnFileReader):
    format_name = "text"

    @guarded()
    @at_least_one_chunk
    def chunks(self, max_events: int = 1 << 20) -> Iterator[dict[str, np.ndarray]]:
        offset, rest, order = 0, b"", self.order
        in_preamble = True
        # Lines are ~20 bytes; a block holds about max_events lines and never more than BLOCK_BYTES.
        block_bytes = max(1024, min(BLOCK_BYTES, max_events * 16))
        while True:
            more = self.stream.read(block_bytes)
            data = rest + more
            if not data:
                break
            cut = data.rfind(b"\n") + 1 if more else len(data)
            if cut == 0:  # one line longer than the block: read on, within reason
                if len(data) > 4 * BLOCK_BYTES:
                    raise FormatError(self.source, offset, f"no line break in {len(data)} bytes: not a text event file")
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            if in_preamble:
                skipped, order = self._preamble(block, order)
                if skipped == len(block):
                    offset += skipped
                    continue
                block, offset, in_preamble = block[skipped:], offset + skipped, False
            yield from self._parse(block, offset, order, max_events)
            offset += len(block)
            if not more:
                break

    def _preamble(self, block: bytes, order: str) -> tuple[int, str]:
        """Bytes of comment, blank and header lines at the start of ``block``, and the column order."""
        position = 0
        while position < len(block):
            end = block.find(b"\n", position)
            end = len(block) if end < 0 else end + 1
            line = block[position:end].strip()
            if line and line[:1] not in (b"#", b"%"):
                names = line.translate(_SEPARATORS).split()
                if all(_is_number(name) for name in names):
                    return position, order
                matched = match_columns(name.decode("latin-1") for name in names)
                if matched is None or len(names) != 4:
                    raise FormatError(self.source, position, f"header {line[:80]!r} does not name the columns t, x, y, p")
                column_of = {actual.lower(): column for column, actual in matched.items()}
                return end, "".join(column_of[name.decode("latin-1").lower()] for name in names)
            position = end
        return position, order

    def _parse(self, block: bytes, offset: int, order: str, max_events: int) -> Iterator[dict[str, np.ndarray]]:
        codes = np.frombuffer(block, np.uint8)
        table = np.empty((block.count(b"\n") + 1, 4), np.int64)
        starts = np.empty(len(table), np.int64)
        rows, status, position = _integer_lines(codes, table, starts)
        if status == _WRONG_COUNT:
            raise FormatError(self.source, offset + position, "line does not hold 4 values (t x y p)")
        if status == _NOT_INTEGER:  # decimals or exponents somewhere in the block: the general path
            columns, starts = self._decimal_columns(block, offset, order)
        else:
            columns = {name: table[:rows, index] for index, name in enumerate(order)}
            starts = starts[:rows] + offset
        for start in range(0, len(starts), max_events):
            part = {name: values[start : start + max_events] for name, values in columns.items()}
            yield canonical_events(part, time_unit=self.time_unit, source=self.source, where=f"lines from byte {starts[start]}")

    def _decimal_columns(self, block: bytes, offset: int, order: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
        normal = block.translate(_SEPARATORS)
        codes = np.frombuffer(normal, np.uint8)
        token = (codes != _SPACE) & (codes != _NEWLINE)
        starts = token & ~np.concatenate(([False], token[:-1]))
        line_of = np.cumsum(codes == _NEWLINE) - (codes == _NEWLINE)
        per_line = np.bincount(line_of[starts], minlength=int(line_of[-1]) + 1 if len(line_of) else 0)
        line_starts = np.concatenate(([0], np.flatnonzero(codes == _NEWLINE) + 1))[: len(per_line)]
        bad = np.flatnonzero((per_line != 4) & (per_line != 0))
        if len(bad):
            raise FormatError(
                self.source, offset + int(line_starts[bad[0]]), f"line has {per_line[bad[0]]} values, expected 4 (t x y p)"
            )
        # Split at the separators counted above only (bytes.split() also splits at \v and \f).
        table = np.array([token for token in normal.replace(b"\n", b" ").split(b" ") if token]).reshape(-1, 4)
        row_starts = offset + line_starts[per_line > 0]
        columns = {name: _numbers(table[:, index], row_starts, self.source, name) for index, name in enumerate(order)}
        return columns, row_starts


_OK, _NOT_INTEGER, _WRONG_COUNT = 0, 1, 2
# Integers of up to 18 digits parse without overflow; longer ones (beyond 10**18, far past any
# plausible timestamp) take the general path, which never wraps.
_LARGEST_TENTH = 10**17


@njit(cache=True)
def _integer_lines(codes, table, starts):
    """Parse lines of 4 integers separated by spaces, tabs, commas or semicolons into ``table``.

    Returns (rows, status, byte position): ``_NOT_INTEGER`` at the first other character (the
    caller falls back to the general parser), ``_WRONG_COUNT`` at the start of a line that does
    not hold 4 values."""
    rows = 0
    column = 0
    value = 0
    negative = False
    in_token = False
    line_start = 0
    for i in range(len(codes) + 1):
        code = codes[i] if i < len(codes) else 10  # the last line may lack its newline
        if 48 <= code <= 57:
            if value >= _LARGEST_TENTH:  # 19 digits or more: the general path bounds it
                return rows, _NOT_INTEGER, i
            value = value * 10 + (code - 48)
            in_token = True
        elif code == 45 and not in_token and not negative:  # '-'
            negative = True
        elif code == 32 or code == 9 or code == 44 or code == 59 or code == 13 or code == 10:
            if negative and not in_token:
                return rows, _NOT_INTEGER, i
            if in_token:
                if column == 4:
                    return rows, _WRONG_COUNT, line_start
                table[rows, column] = -value if negative else value
                column += 1
                value = 0
                negative = False
                in_token = False
            if code == 10:
                if column == 4:
                    starts[rows] = line_start
                    rows += 1
                elif column != 0:
                    return rows, _WRONG_COUNT, line_start
                column = 0
                line_start = i + 1
        else:
            return rows, _NOT_INTEGER, i
    return rows, _OK, 0


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _numbers(tokens: np.ndarray, row_starts: np.ndarray, source: str, name: str) -> np.ndarray:
    try:
        return tokens.astype(np.int64)  # raises OverflowError beyond int64, never wraps
    except (ValueError, OverflowError):
        pass
    try:
        return tokens.astype(np.float64)
    except ValueError:
        row = next(index for index, token in enumerate(tokens) if not _is_number(token))
        raise FormatError(source, int(row_starts[row]), f"column {name}: {tokens[row]!r} is not a number") from None


register_format(
    FormatSpec(name="text", suffixes=(".csv", ".txt", ".tsv"), open=TextReader, description="text/CSV, one event per line")
)
