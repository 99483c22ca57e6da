"""Raw event formats: pure, vectorised decoders from bytes to event arrays (t, x, y, p).

Each reader takes the file's bytes (or a binary file object) and a name for error messages, and
returns a dict of numpy arrays; dataset adapters and the generic converters share them.
"""

from .atis import decode_atis_bin, encode_atis_bin
from .errors import FormatError

__all__ = ["FormatError", "decode_atis_bin", "encode_atis_bin"]
