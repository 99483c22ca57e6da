"""Text/CSV event files: one event per line, four numbers (``t x y p`` by default), read in chunks.

Separators may be any mix of spaces, tabs, commas and semicolons. Leading lines starting with
``#`` or ``%`` are comments. An optional header line of column names (e.g. ``timestamp,x,y,polarity``)
gives the column order; otherwise ``columns`` does (default ``"txyp"``). Timestamps in another
unit than microseconds (e.g. seconds as decimals, as the RPG Event Camera Dataset ships) need
``time_unit``. Parsing is vectorised per block of lines; a malformed line is a FormatError naming
its byte offset.
"""

from __future__ import annotations

from typing import BinaryIO, Iterator

import numpy as np

from .blocks import new_events
from .columns import canonical_events, check_time_unit, match_columns
from .errors import FormatError
from .registry import FormatSpec, register_format

_SEPARATORS = bytes.maketrans(b",;\t\r", b"    ")
_SPACE, _NEWLINE = ord(" "), ord("\n")
BLOCK_BYTES = 1 << 22


class TextReader:
    def __init__(
        self, stream: BinaryIO, *, source: str, sensor_size=None, time_unit: str = "us", columns: str = "txyp"
    ):
        check_time_unit(time_unit)
        if sorted(columns) != sorted("txyp"):
            raise ValueError(f"columns must order the letters t, x, y, p, got {columns!r}")
        self.stream, self.source, self.time_unit, self.order = stream, source, time_unit, columns
        self.sensor_size = tuple(sensor_size) if sensor_size else None

    def chunks(self, max_events: int = 1 << 20) -> Iterator[dict[str, np.ndarray]]:
        offset, rest, order = 0, b"", self.order
        in_preamble, yielded = True, False
        # Lines are ~20 bytes; a block holds about max_events lines and never more than BLOCK_BYTES.
        block_bytes = max(1024, min(BLOCK_BYTES, max_events * 16))
        while True:
            more = self.stream.read(block_bytes)
            data = rest + more
            if not data:
                break
            cut = data.rfind(b"\n") + 1 if more else len(data)
            if cut == 0:  # one line longer than the block: read on
                rest = data
                continue
            block, rest = data[:cut], data[cut:]
            if in_preamble:
                skipped, order = self._preamble(block, order)
                if skipped == len(block):
                    offset += skipped
                    continue
                block, offset, in_preamble = block[skipped:], offset + skipped, False
            for events in self._parse(block, offset, order, max_events):
                yielded = True
                yield events
            offset += len(block)
            if not more:
                break
        if not yielded:
            yield new_events(0)

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
                lowered = [name.decode("latin-1").lower() for name in names]
                return end, "".join(next(c for c, actual in matched.items() if actual.lower() == name) for name in lowered)
            position = end
        return position, order

    def _parse(self, block: bytes, offset: int, order: str, max_events: int) -> Iterator[dict[str, np.ndarray]]:
        normal = block.translate(_SEPARATORS)
        codes = np.frombuffer(normal, np.uint8)
        token = (codes != _SPACE) & (codes != _NEWLINE)
        starts = token & ~np.concatenate(([False], token[:-1]))
        line_of = np.cumsum(codes == _NEWLINE) - (codes == _NEWLINE)
        per_line = np.bincount(line_of[starts], minlength=int(line_of[-1]) + 1 if len(line_of) else 0)
        bad = np.flatnonzero((per_line != 4) & (per_line != 0))
        if len(bad):
            line_starts = np.concatenate(([0], np.flatnonzero(codes == _NEWLINE) + 1))
            raise FormatError(
                self.source, offset + int(line_starts[bad[0]]), f"line has {per_line[bad[0]]} values, expected 4 (t x y p)"
            )
        tokens = np.array(normal.split())
        if not len(tokens):
            return
        table = tokens.reshape(-1, 4)
        line_starts = np.concatenate(([0], np.flatnonzero(codes == _NEWLINE) + 1))[: len(per_line)]
        row_starts = offset + line_starts[per_line > 0]
        for start in range(0, len(table), max_events):
            rows = table[start : start + max_events]
            starts = row_starts[start : start + max_events]
            columns = {name: _numbers(rows[:, index], starts, self.source, name) for index, name in enumerate(order)}
            yield canonical_events(columns, time_unit=self.time_unit, source=self.source, where=f"lines from byte {starts[0]}")


def _is_number(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _numbers(tokens: np.ndarray, row_starts: np.ndarray, source: str, name: str) -> np.ndarray:
    try:
        return tokens.astype(np.int64)
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
