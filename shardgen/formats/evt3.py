"""Prophesee RAW EVT 3.0: 16-bit little-endian words, vectorised events, 24-bit time (µs).

Word types (top 4 bits): ADDR_Y (0x0, y in bits 0-10), ADDR_X (0x2, one event at x = bits 0-10,
polarity bit 11), VECT_BASE_X (0x3, base x and polarity of the following vectors), VECT_12 (0x4)
and VECT_8 (0x5) (one event per set bit at base x + bit, then base x advances by 12 or 8),
TIME_LOW (0x6, time bits 0-11), TIME_HIGH (0x8, time bits 12-23); CONTINUED_4 (0x7),
EXT_TRIGGER (0xA), OTHERS (0xE) and CONTINUED_12 (0xF) carry no CD event and are skipped; any
other type is an error.

Time: real sensors emit TIME_LOW words slightly out of order (799, 811, 800). The clock only
moves forward: every TIME_HIGH/TIME_LOW gives a candidate ``overflows << 24 | high << 12 | low``
(TIME_HIGH resets ``low`` to 0) and the clock becomes ``max(clock, candidate)``, so a late TIME_LOW never counts as an overflow and
timestamps never go backwards. The 24-bit time wraps (every 16.8 s) only when TIME_HIGH jumps back
by more than half its range. Events before the first TIME_HIGH and the first ADDR_Y have no known
time or row and are skipped, as Metavision's decoder does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .prophesee import ERROR_CODE, ERROR_WORD, WordStreamReader, parse_header_bytes
from .registry import FormatSpec, register_format

# state slots after the error slots
_CLOCK, _HIGH, _LOW, _OVERFLOWS, _HAVE_TIME, _Y, _HAVE_Y, _BASE_X, _POLARITY = range(2, 11)
_UNDEFINED_TYPE, _X_OUTSIDE, _Y_OUTSIDE = 1, 2, 3


@njit(cache=True)
def _emit(state, t, x, y, p, n, ex, polarity, width, index):
    if width > 0 and ex >= width:
        state[ERROR_CODE] = _X_OUTSIDE
        state[ERROR_WORD] = index
        return False
    t[n] = state[_CLOCK]
    x[n] = ex
    y[n] = state[_Y]
    p[n] = polarity
    return True


@njit(cache=True)
def decode_evt3_words(words, state, t, x, y, p, width, height):
    capacity = len(t)
    n = 0
    i = 0
    while i < len(words):
        word = np.int64(words[i])
        kind = word >> 12
        if kind == 0x0:  # ADDR_Y
            row = word & 0x7FF
            if height > 0 and row >= height:
                state[ERROR_CODE] = _Y_OUTSIDE
                state[ERROR_WORD] = i
                return n, i
            state[_Y] = row
            state[_HAVE_Y] = 1
        elif kind == 0x2:  # ADDR_X: one event
            if n + 1 > capacity:
                return n, i
            if state[_HAVE_TIME] and state[_HAVE_Y]:
                if not _emit(state, t, x, y, p, n, word & 0x7FF, (word >> 11) & 1, width, i):
                    return n, i
                n += 1
        elif kind == 0x3:  # VECT_BASE_X
            state[_BASE_X] = word & 0x7FF
            state[_POLARITY] = (word >> 11) & 1
        elif kind == 0x4 or kind == 0x5:  # VECT_12, VECT_8
            bits = 12 if kind == 0x4 else 8
            mask = word & ((1 << bits) - 1)
            count = 0
            rest = mask
            while rest:
                rest &= rest - 1
                count += 1
            if n + count > capacity:
                return n, i
            if state[_HAVE_TIME] and state[_HAVE_Y]:
                base = state[_BASE_X]
                for bit in range(bits):
                    if (mask >> bit) & 1:
                        if not _emit(state, t, x, y, p, n, base + bit, state[_POLARITY], width, i):
                            return n, i
                        n += 1
            state[_BASE_X] += bits
        elif kind == 0x6 or kind == 0x8:  # TIME_LOW, TIME_HIGH
            if kind == 0x6:
                state[_LOW] = word & 0xFFF
            else:
                high = word & 0xFFF
                if state[_HAVE_TIME] and state[_HIGH] - high > 2048:
                    state[_OVERFLOWS] += 1
                state[_HIGH] = high
                state[_LOW] = 0  # a new TIME_HIGH period starts at its beginning
                state[_HAVE_TIME] = 1
            candidate = (state[_OVERFLOWS] << 24) | (state[_HIGH] << 12) | state[_LOW]
            if state[_HAVE_TIME] and candidate > state[_CLOCK]:
                state[_CLOCK] = candidate
        elif kind == 0x7 or kind == 0xA or kind == 0xE or kind == 0xF:
            pass
        else:
            state[ERROR_CODE] = _UNDEFINED_TYPE
            state[ERROR_WORD] = i
            return n, i
        i += 1
    return n, i


class Evt3Reader(WordStreamReader):
    encoding = "evt3"
    word_dtype = np.dtype("<u2")
    kernel = decode_evt3_words
    state_size = 11
    events_per_word = 12
    errors = {
        _UNDEFINED_TYPE: "EVT 3.0 word 0x{word:04x} has an undefined type: corrupt data",
        _X_OUTSIDE: "EVT 3.0 word 0x{word:04x} puts an event at x >= the sensor width {width}: corrupt data",
        _Y_OUTSIDE: "EVT 3.0 word 0x{word:04x} sets y >= the sensor height {height}: corrupt data",
    }


def _sniff(head: bytes) -> bool:
    return parse_header_bytes(head).encoding() == "evt3"


register_format(
    FormatSpec(
        name="evt3",
        suffixes=(".raw",),
        open=Evt3Reader,
        sniff=_sniff,
        description="Prophesee RAW EVT 3.0",
    )
)
