"""Containers that datasets ship their events in, beyond the generic readers' layouts: whole
``.npy`` files (optionally pickled), named arrays of an ``.npz``, MATLAB ``.mat`` variables, and
float seconds as the audio datasets store them. Shared by the dataset adapters.

Every reader names the file in its errors (``FormatError``) and never executes code from the file
unless the caller passes ``allow_pickle=True`` explicitly.
"""

from __future__ import annotations

import io

import numpy as np

from .errors import FormatError


def load_npy(data: bytes, *, source: str, allow_pickle: bool = False) -> np.ndarray:
    """A ``.npy`` file's array. Object arrays are pickles: refused unless ``allow_pickle``."""
    try:
        return np.load(io.BytesIO(data), allow_pickle=allow_pickle)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise FormatError(source, None, "holds a pickled object array; loading it runs code from the file") from None
        raise FormatError(source, None, f"not a valid .npy file ({error})") from None
    except (EOFError, OSError) as error:
        raise FormatError(source, None, f"not a valid .npy file ({error or 'truncated'})") from None


def load_npz(data: bytes, *, source: str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``names`` of a ``.npz`` file (pickles refused)."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            missing = [name for name in names if name not in archive.files]
            if missing:
                raise FormatError(source, None, f"npz holds {sorted(archive.files)}, missing {missing}")
            return {name: archive[name] for name in names}
    except FormatError:
        raise
    except Exception as error:  # noqa: BLE001 - zipfile, pickle refusal and header errors alike
        raise FormatError(source, None, f"not a valid .npz file ({error})") from None


def load_mat(data: bytes, *, source: str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Variables ``names`` of a MATLAB (v4-v7.2) ``.mat`` file, flattened to 1-D."""
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


def as_integers(values: np.ndarray, *, source: str, name: str) -> np.ndarray:
    """``values`` as int64; floats must hold whole numbers (nothing is rounded silently)."""
    values = np.asarray(values)
    if values.dtype.kind in "iub":
        return values.astype(np.int64)
    if values.dtype.kind != "f":
        raise FormatError(source, None, f"field {name!r} has non-numeric dtype {values.dtype}")
    converted = values.astype(np.int64)
    bad = np.flatnonzero(converted != values)
    if len(bad):
        raise FormatError(source, None, f"field {name!r} value {values[bad[0]].item()!r} at event {bad[0]} is not a whole number")
    return converted
