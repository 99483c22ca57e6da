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

from .prophesee_header import ERROR_CODE, ERROR_WORD, WordStreamReader, register_raw_encoding

# state slots after the error slots
_CLOCK, _HIGH, _LOW, _OVERFLOWS, _HAVE_TIME, _Y, _HAVE_Y, _BASE_X, _POLARITY = range(2, 11)
_UNDEFINED_TYPE, _X_OUTSIDE, _Y_OUTSIDE = 1, 2, 3


@njit(cache=True, inline="always")
def _put(t, x, y, p, n, time, column, row, polarity):
    t[n] = time
    x[n] = column
    y[n] = row
    p[n] = polarity


@njit(cache=True)
def decode_evt3_words(words, state, t, x, y, p, width, height):
    # The state lives in locals while decoding (saved on every return): several times faster
    # than reading and writing the array for each word.
    clock, high, low, overflows = state[_CLOCK], state[_HIGH], state[_LOW], state[_OVERFLOWS]
    have_time, row, have_row = state[_HAVE_TIME], state[_Y], state[_HAVE_Y]
    base_x, polarity = state[_BASE_X], state[_POLARITY]
    capacity = len(t)
    n = 0
    i = 0
    error = 0
    while i < len(words):
        word = np.int64(words[i])
        kind = word >> 12
        if kind == 0x4 or kind == 0x5:  # VECT_12, VECT_8: one event per set bit from base x
            bits = 12 if kind == 0x4 else 8
            mask = word & ((1 << bits) - 1)
            if have_time and have_row and mask:
                count = 0
                rest = mask
                while rest:
                    rest &= rest - 1
                    count += 1
                if n + count > capacity:
                    break
                column = base_x
                rest = mask
                while rest:
                    if rest & 1:
                        if width > 0 and column >= width:
                            error = _X_OUTSIDE
                            break
                        _put(t, x, y, p, n, clock, column, row, polarity)
                        n += 1
                    rest >>= 1
                    column += 1
                if error:
                    break
            base_x += bits
        elif kind == 0x6:  # TIME_LOW
            low = word & 0xFFF
            if have_time:
                candidate = (overflows << 24) | (high << 12) | low
                if candidate > clock:
                    clock = candidate
        elif kind == 0x0:  # ADDR_Y
            row = word & 0x7FF
            if height > 0 and row >= height:
                error = _Y_OUTSIDE
                break
            have_row = 1
        elif kind == 0x2:  # ADDR_X: one event
            if have_time and have_row:
                if n + 1 > capacity:
                    break
                column = word & 0x7FF
                if width > 0 and column >= width:
                    error = _X_OUTSIDE
                    break
                _put(t, x, y, p, n, clock, column, row, (word >> 11) & 1)
                n += 1
        elif kind == 0x3:  # VECT_BASE_X
            base_x = word & 0x7FF
            polarity = (word >> 11) & 1
        elif kind == 0x8:  # TIME_HIGH
            new_high = word & 0xFFF
            if have_time and high - new_high > 2048:
                overflows += 1
            high = new_high
            low = 0  # a new TIME_HIGH period starts at its beginning
            have_time = 1
            candidate = (overflows << 24) | (high << 12)
            if candidate > clock:
                clock = candidate
        elif kind == 0x7 or kind == 0xA or kind == 0xE or kind == 0xF:
            pass
        else:
            error = _UNDEFINED_TYPE
            break
        i += 1
    state[_CLOCK], state[_HIGH], state[_LOW], state[_OVERFLOWS] = clock, high, low, overflows
    state[_HAVE_TIME], state[_Y], state[_HAVE_Y] = have_time, row, have_row
    state[_BASE_X], state[_POLARITY] = base_x, polarity
    if error:
        state[ERROR_CODE] = error
        state[ERROR_WORD] = i
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


register_raw_encoding(Evt3Reader, "Prophesee RAW EVT 3.0")
