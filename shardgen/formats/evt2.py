"""Prophesee RAW EVT 2.0: 32-bit little-endian words, one event per word, 34-bit time (µs).

Word types (top 4 bits): CD_OFF (0x0) and CD_ON (0x1) with time bits 0-5 in bits 22-27, x in
bits 11-21 and y in bits 0-10; EV_TIME_HIGH (0x8) with time bits 6-33 in bits 0-27; EXT_TRIGGER
(0xA), OTHERS (0xE) and CONTINUED (0xF) carry no CD event and are skipped; any other type is an
error. The 34-bit time wraps (every 4.8 h) when TIME_HIGH jumps back by more than half its range.
Events before the first TIME_HIGH have no known time and are skipped, as Metavision's decoder does.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .prophesee_header import ERROR_CODE, ERROR_WORD, WordStreamReader, register_raw_encoding

_TIME_BASE, _LAST_HIGH, _OVERFLOWS, _HAVE_TIME = range(2, 6)
_UNDEFINED_TYPE, _X_OUTSIDE, _Y_OUTSIDE = 1, 2, 3
_HIGH_RANGE = 1 << 28


@njit(cache=True)
def decode_evt2_words(words, state, t, x, y, p, width, height):
    capacity = len(t)
    n = 0
    for i in range(len(words)):
        word = np.int64(words[i])
        kind = word >> 28
        if kind <= 1:  # CD_OFF, CD_ON
            if n >= capacity:
                return n, i
            if state[_HAVE_TIME]:
                ex = (word >> 11) & 0x7FF
                ey = word & 0x7FF
                if width > 0 and ex >= width:
                    state[ERROR_CODE] = _X_OUTSIDE
                    state[ERROR_WORD] = i
                    return n, i
                if height > 0 and ey >= height:
                    state[ERROR_CODE] = _Y_OUTSIDE
                    state[ERROR_WORD] = i
                    return n, i
                t[n] = state[_TIME_BASE] | ((word >> 22) & 0x3F)
                x[n] = ex
                y[n] = ey
                p[n] = kind
                n += 1
        elif kind == 0x8:  # EV_TIME_HIGH
            high = word & 0x0FFFFFFF
            if state[_HAVE_TIME] and state[_LAST_HIGH] - high > _HIGH_RANGE // 2:
                state[_OVERFLOWS] += 1
            state[_LAST_HIGH] = high
            state[_HAVE_TIME] = 1
            state[_TIME_BASE] = (state[_OVERFLOWS] * _HIGH_RANGE + high) << 6
        elif kind == 0xA or kind == 0xE or kind == 0xF:
            pass
        else:
            state[ERROR_CODE] = _UNDEFINED_TYPE
            state[ERROR_WORD] = i
            return n, i
    return n, len(words)


class Evt2Reader(WordStreamReader):
    encoding = "evt2"
    word_dtype = np.dtype("<u4")
    kernel = decode_evt2_words
    state_size = 6
    events_per_word = 1
    errors = {
        _UNDEFINED_TYPE: "EVT 2.0 word 0x{word:08x} has an undefined type: corrupt data",
        _X_OUTSIDE: "EVT 2.0 word 0x{word:08x} puts an event at x >= the sensor width {width}: corrupt data",
        _Y_OUTSIDE: "EVT 2.0 word 0x{word:08x} puts an event at y >= the sensor height {height}: corrupt data",
    }


register_raw_encoding(Evt2Reader, "Prophesee RAW EVT 2.0")
