"""Containers that datasets ship their events in, beyond the generic readers' layouts: whole
``.npy`` files (optionally pickled), named arrays of an ``.npz``, MATLAB ``.mat`` variables, and
float seconds as the audio datasets store them. Shared by the dataset adapters.

Every reader names the file in its errors (``FormatError``) and never executes code from the file
unless the caller passes ``allow_pickle=True`` explicitly.
"""

from __future__ import annotations

import io
import zlib

import numpy as np

from .errors import FormatError, guarded


def _check_npy_size(data: bytes, source: str) -> None:
    """The array a ``.npy`` header declares fits in the bytes that follow it (a corrupt shape
    must not allocate terabytes before the read finds the file too short)."""
    stream = io.BytesIO(data)
    version = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _fortran, dtype = read_header(stream)
    if dtype.hasobject:
        return  # a pickle: refused below unless allowed, and then sized by its own bytes
    declared = dtype.itemsize * int(np.prod(shape, dtype=object))
    if any(side < 0 for side in shape) or declared > len(data) - stream.tell():
        raise FormatError(
            source,
            stream.tell(),
            f"header declares a {shape} array of {dtype} ({declared} bytes), "
            f"but {len(data) - stream.tell()} bytes follow: corrupt or truncated",
        )


@guarded("npy")
def load_npy(data: bytes, *, source: str, allow_pickle: bool = False) -> np.ndarray:
    """A ``.npy`` file's array. Object arrays are pickles: refused unless ``allow_pickle``."""
    try:
        _check_npy_size(data, source)
        return np.load(io.BytesIO(data), allow_pickle=allow_pickle)
    except FormatError:
        raise
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise FormatError(source, None, "holds a pickled object array; loading it runs code from the file") from None
        raise FormatError(source, None, f"not a valid .npy file ({error})") from None
    except (EOFError, OSError, SyntaxError) as error:  # tokenize errors of a damaged header are SyntaxErrors' kin
        raise FormatError(source, None, f"not a valid .npy file ({error or 'truncated'})") from None


@guarded("npz")
def load_npz(data: bytes, *, source: str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``names`` of a ``.npz`` file (pickles refused)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            missing = [name for name in names if name not in archive.files]
            if missing:
                raise FormatError(source, None, f"npz holds {sorted(archive.files)}, missing {missing}")
            arrays = {}
            for name in names:  # each member's array checked against its declared size, then read
                _member_size(archive.zip, f"{name}.npy", source)
                arrays[name] = load_npy(archive.zip.read(f"{name}.npy"), source=f"{source}:{name}.npy")
            return arrays
    except FormatError:
        raise
    except Exception as error:  # noqa: BLE001 - zipfile, pickle refusal and header errors alike
        raise FormatError(source, None, f"not a valid .npz file ({error})") from None


def _member_size(archive, name: str, source: str) -> int:
    """The decompressed size a zip member declares; a FormatError beyond ``max_member_bytes()``."""
    from .rawtree import RawInputError, check_member_size

    size = archive.getinfo(name).file_size
    try:
        check_member_size(size, f"{source}:{name}")
    except RawInputError as error:
        raise FormatError(source, None, str(error)) from None
    return size


@guarded("mat")
def load_mat(data: bytes, *, source: str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Variables ``names`` of a MATLAB v5-v7.2 ``.mat`` file, flattened to 1-D.

    scipy's reader is not hardened against damaged files (an unknown data type code or a huge
    dimension product makes it read out of bounds and crash the process), so the file's element
    structure is checked first (:func:`check_mat5`): only numeric matrices, each element whole
    and of a known type; MATLAB v4 files and cell, struct, char or sparse variables are refused."""
    check_mat5(data, source=source)
    try:
        import scipy.io
    except ImportError:  # pragma: no cover - depends on the environment
        raise FormatError(source, None, "reading .mat files needs scipy: pip install neuroshards[mat]") from None
    try:
        variables = scipy.io.loadmat(io.BytesIO(data), variable_names=list(names))
    except NotImplementedError:
        raise FormatError(source, None, "MATLAB v7.3 (HDF5) files are not supported; the dataset ships v5 files") from None
    except Exception as error:  # noqa: BLE001 - scipy raises many types for bad bytes
        raise FormatError(source, None, f"not a valid .mat file ({error})") from None
    missing = [name for name in names if name not in variables]
    if missing:
        raise FormatError(source, None, f".mat file lacks variables {missing}")
    return {name: np.ravel(variables[name]) for name in names}


# MATLAB v5 data types: element code -> bytes per value (numeric ones), and the matrix codes.
_MAT_VALUE_BYTES = {1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8}
_MI_MATRIX, _MI_COMPRESSED, _MI_INT32, _MI_UINT32, _MI_INT8 = 14, 15, 5, 6, 1
_MX_NUMERIC = range(6, 16)  # mxDOUBLE_CLASS .. mxUINT64_CLASS
_MX_COMPLEX = 0x800


def _mat_tag(data: bytes, at: int, end: int, order: str, source: str, base: int) -> tuple[int, int, int, int]:
    """(type, data bytes, data start, next element) of the element tag at ``at`` (small format too)."""
    if at + 8 > end:
        raise FormatError(source, base + at, "truncated .mat element tag")
    kind, size = np.frombuffer(data, f"{order}u4", 2, at)
    kind, size = int(kind), int(size)
    if kind >> 16:  # small element: size in the upper half, data in the tag's second word
        if kind >> 16 > 4:
            raise FormatError(source, base + at, f"small .mat element declares {kind >> 16} bytes (at most 4): corrupt")
        return kind & 0xFFFF, kind >> 16, at + 4, at + 8
    if size > end - at - 8:
        raise FormatError(source, base + at, f".mat element declares {size} bytes, {end - at - 8} remain: corrupt or truncated")
    return kind, size, at + 8, at + 8 + size + (-size % 8)


def _check_mat_matrix(data: bytes, start: int, end: int, order: str, source: str, base: int) -> None:
    """The sub-elements of one miMATRIX: array flags, dimensions, name, real (and imaginary) part."""
    kind, size, at, following = _mat_tag(data, start, end, order, source, base)
    if kind != _MI_UINT32 or size != 8:
        raise FormatError(source, base + start, "damaged .mat array flags")
    flags = int(np.frombuffer(data, f"{order}u4", 1, at)[0])
    kind, size, at, following = _mat_tag(data, following, end, order, source, base)
    if kind != _MI_INT32 or size < 8 or size % 4:
        raise FormatError(source, base + at, "damaged .mat dimensions")
    dims = np.frombuffer(data, f"{order}i4", size // 4, at)
    if (dims < 0).any():
        raise FormatError(source, base + at, f"negative .mat dimensions {dims.tolist()}")
    values = int(np.prod(dims.astype(object)))
    kind, _size, at, following = _mat_tag(data, following, end, order, source, base)
    if kind not in (_MI_INT8, 2):
        raise FormatError(source, base + at, "damaged .mat variable name")
    if flags & 0xFF not in _MX_NUMERIC:
        raise FormatError(source, base + start, f".mat variable of class {flags & 0xFF} (only numeric arrays are read)")
    for _part in range(2 if flags & _MX_COMPLEX else 1):
        kind, size, at, following = _mat_tag(data, following, end, order, source, base)
        if kind not in _MAT_VALUE_BYTES or size != values * _MAT_VALUE_BYTES[kind]:
            raise FormatError(source, base + at, f".mat data of type {kind} and {size} bytes for {values} values: corrupt")


def check_mat5(data: bytes, *, source: str) -> None:
    """Check every element of a MATLAB v5 file (compressed ones decompressed, up to the archive
    member limit, ``rawtree.max_member_bytes()``) before scipy reads it; a FormatError at the
    first damaged one."""
    if len(data) < 128 or data[126:128] not in (b"IM", b"MI"):
        raise FormatError(source, 0, "not a MATLAB v5 .mat file (v4 and damaged headers are refused)")
    from .rawtree import max_member_bytes

    order = "<" if data[126:128] == b"IM" else ">"
    limit = max_member_bytes()
    at = 128
    while at < len(data):
        kind, size, start, following = _mat_tag(data, at, len(data), order, source, 0)
        if kind == _MI_COMPRESSED:
            inflater = zlib.decompressobj()
            try:
                inner = inflater.decompress(data[start : start + size], limit)
            except zlib.error as error:
                raise FormatError(source, at, f"damaged compressed .mat variable ({error})") from None
            if inflater.unconsumed_tail:
                raise FormatError(
                    source,
                    at,
                    f"compressed .mat variable expands beyond {limit} bytes (the archive member limit: --max-member-bytes)",
                )
            inner_kind, inner_size, inner_start, _ = _mat_tag(inner, 0, len(inner), order, source, at)
            if inner_kind != _MI_MATRIX:
                raise FormatError(source, at, f"compressed .mat element of type {inner_kind}, expected a matrix")
            _check_mat_matrix(inner, inner_start, inner_start + inner_size, order, source, at)
            following = start + size  # compressed elements are not padded
        elif kind == _MI_MATRIX:
            _check_mat_matrix(data, start, start + size, order, source, 0)
        else:
            raise FormatError(source, at, f".mat top-level element of type {kind}, expected a matrix")
        at = following


def as_integers(values: np.ndarray, *, source: str, name: str) -> np.ndarray:
    """``values`` as int64; floats must hold whole numbers (nothing is rounded silently)."""
    values = np.asarray(values)
    if values.dtype.kind == "u" and len(values) and int(values.max()) > np.iinfo(np.int64).max:
        raise FormatError(source, None, f"field {name!r} value {int(values.max())} does not fit int64")
    if values.dtype.kind in "iub":
        return values.astype(np.int64)
    if values.dtype.kind != "f":
        raise FormatError(source, None, f"field {name!r} has non-numeric dtype {values.dtype}")
    converted = values.astype(np.int64)
    bad = np.flatnonzero(converted != values)
    if len(bad):
        raise FormatError(source, None, f"field {name!r} value {values[bad[0]].item()!r} at event {bad[0]} is not a whole number")
    return converted
