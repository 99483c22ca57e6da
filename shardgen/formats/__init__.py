"""Raw event formats: pure, vectorised decoders from bytes to event arrays (t, x, y, p).

Each reader takes the file's bytes (or a binary file object) and a name for error messages, and
returns a dict of numpy arrays; dataset adapters and the generic converters share them.

Bad bytes raise only :class:`FormatError` (file, byte offset where known, format), never another
exception and never a crash; sensor sizes and timestamps outside plausible ranges are errors too
(see ``errors.py`` for the bounds). ``tests/test_fuzz_formats.py`` and ``scripts/fuzz_formats.py``
check this with mutated files.
"""

from . import (
    aedat2,  # noqa: F401  (registers the format)
    aedat3,  # noqa: F401
    aedat4,  # noqa: F401
    dat,  # noqa: F401  (registers the format)
    evt2,  # noqa: F401  (registers the format)
    evt3,  # noqa: F401  (registers the format)
    hdf5,  # noqa: F401  (registers the format)
    numpy_files,  # noqa: F401  (registers the format)
    text,  # noqa: F401  (registers the format)
)
from .atis import decode_atis_bin, encode_atis_bin, pack_atis_bin
from .blocks import concatenate
from .detect import detect_format, open_recording
from .errors import FormatError, guarded
from .registry import FORMATS, EventReader, FormatSpec, open_reader, register_format

__all__ = [
    "FORMATS",
    "EventReader",
    "FormatError",
    "FormatSpec",
    "concatenate",
    "decode_atis_bin",
    "detect_format",
    "encode_atis_bin",
    "guarded",
    "pack_atis_bin",
    "open_reader",
    "open_recording",
    "register_format",
]
