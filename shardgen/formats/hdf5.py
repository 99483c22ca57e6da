"""HDF5 event files: 1-D datasets t, x, y, p (common spellings) at the top level or in a group
(``events`` first, as DSEC and others store them), or one compound dataset with those fields.

Read in slices of ``max_events``; needs h5py (``pip install neuroshards[hdf5]``). The sensor size
comes from attributes ``sensor_size`` (W, H[, P]) or ``width``/``height`` on the file or the group,
else from the option.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import numpy as np

from .blocks import at_least_one_chunk
from .columns import canonical_events, check_time_unit, match_columns
from .errors import FormatError, checked_sensor_size, guarded
from .registry import FormatSpec, explicit_sensor_size, register_format, starts_with

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
PREFERRED_GROUPS = ("events", "event", "data")


def require_h5py(source: str):
    """The h5py module, or a FormatError naming ``source`` and the extra that installs it."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - depends on the environment
        raise FormatError(source, None, "reading HDF5 needs h5py: pip install neuroshards[hdf5]") from None
    return h5py


class Hdf5Reader:
    format_name = "hdf5"

    def __init__(self, stream: BinaryIO, *, source: str, sensor_size=None, time_unit: str = "us"):
        check_time_unit(time_unit)  # the caller's mistakes are ValueErrors, raised before any byte is read
        explicit = explicit_sensor_size(sensor_size)
        h5py = require_h5py(source)
        self.source, self.time_unit = source, time_unit
        self._open(h5py, stream, explicit)

    @guarded()
    def _open(self, h5py, stream: BinaryIO, sensor_size: tuple[int, int] | None) -> None:
        source = self.source
        try:
            self.file = h5py.File(stream, "r")
        except OSError as error:
            raise FormatError(source, 0, f"not a readable HDF5 file ({error})") from None
        self.group, self.names, self.compound = self._locate(h5py)
        self.sensor_size = sensor_size or self._sensor_size()

    def close(self) -> None:
        self.file.close()

    def _locate(self, h5py):
        groups = [self.file[name] for name in PREFERRED_GROUPS if isinstance(self.file.get(name), h5py.Group)]
        groups += [self.file] + [item for item in self.file.values() if isinstance(item, h5py.Group)]
        for group in groups:
            datasets = {name: item for name, item in group.items() if isinstance(item, h5py.Dataset)}
            # Numeric columns only: variable-length (object) datasets are never read, as a damaged
            # one can crash HDF5 itself (see hdf5_datasets.check_vlen_storage).
            names = match_columns(
                name for name, item in datasets.items() if item.ndim == 1 and item.dtype.names is None and item.dtype.kind != "O"
            )
            if names is not None:
                lengths = {datasets[actual].shape[0] for actual in names.values()}
                if len(lengths) != 1:
                    raise FormatError(self.source, None, f"{group.name}: datasets t, x, y, p differ in length {sorted(lengths)}")
                return group, names, None
            for _name, item in datasets.items():
                if item.dtype.names and item.ndim == 1 and (fields := match_columns(item.dtype.names)) is not None:
                    return group, fields, item
        raise FormatError(self.source, None, "no t, x, y, p datasets (or compound dataset with those fields) found")

    def _sensor_size(self) -> tuple[int, int] | None:
        for holder in (self.group, self.file):
            attributes = holder.attrs
            if "sensor_size" in attributes:
                size = np.asarray(attributes["sensor_size"]).ravel()
                if len(size) < 2:
                    raise FormatError(
                        self.source, None, f"{holder.name}: attribute sensor_size {size.tolist()} is not (W, H[, P])"
                    )
                return checked_sensor_size(size[0], size[1], source=self.source, where=f"{holder.name} attribute sensor_size")
            if "width" in attributes and "height" in attributes:
                return checked_sensor_size(
                    attributes["width"], attributes["height"], source=self.source, where=f"{holder.name} attributes width/height"
                )
        return None

    @guarded()
    @at_least_one_chunk
    def chunks(self, max_events: int = 1 << 20) -> Iterator[dict[str, np.ndarray]]:
        if self.compound is not None:
            n = self.compound.shape[0]
        else:
            n = self.group[self.names["t"]].shape[0]
        for start in range(0, n, max_events):
            stop = min(n, start + max_events)
            try:
                if self.compound is not None:
                    block = self.compound[start:stop]
                    columns = {canonical: block[actual] for canonical, actual in self.names.items()}
                else:
                    columns = {canonical: self.group[actual][start:stop] for canonical, actual in self.names.items()}
            except OSError as error:  # a damaged or truncated file
                raise FormatError(
                    self.source, None, f"{self.group.name} events {start}..{stop - 1}: unreadable ({error})"
                ) from None
            yield canonical_events(
                columns, time_unit=self.time_unit, source=self.source, where=f"{self.group.name} events {start}..{stop - 1}"
            )


register_format(
    FormatSpec(
        name="hdf5",
        suffixes=(".h5", ".hdf5", ".hdf"),
        open=Hdf5Reader,
        sniff=starts_with(HDF5_MAGIC),
        description="HDF5 t/x/y/p datasets",
    )
)
