"""1-D (audio) spike datasets in HDF5: SHD and SSC (Cramer et al., 2020), N-TIDIGITS18 (Anumula et al., 2018).

Events have fields t (µs) and x (the channel) on a ``[channels, 1, 1]`` sensor. The files hold
times in float seconds (float16 in SHD/SSC); they become µs as Tonic makes them,
``floor(float64(t) * 1e6)``, which is exact and, for float16, invertible from 2**-9 s on
(``shardgen.formats.containers.microseconds_to_float16_seconds``), so SpikingJelly's float16
frame arithmetic can be reproduced from the shards.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neuroshards.events import seconds_to_microseconds

from ..formats import FormatError, guarded, rawtree
from ..formats.containers import as_integers
from ..formats.errors import MAX_TIMESTAMP_US
from ..formats.hdf5 import require_h5py
from .base import DatasetAdapter, Plan, RawFile, RawInputError, Sample, key_from_path
from .registry import register

SAMPLES_PER_TASK = 256


def _open_h5(path: str):
    try:
        return require_h5py(path).File(path, "r")
    except OSError as error:
        raise FormatError(path, None, f"not a readable HDF5 file ({error})") from None


def spike_events(times: np.ndarray, units: np.ndarray, *, source: str) -> dict[str, np.ndarray]:
    """One recording's (seconds, channel) arrays -> events {t µs, x}."""
    times, units = np.ravel(times), np.ravel(units)
    if len(times) != len(units):
        raise FormatError(source, None, f"{len(times)} spike times but {len(units)} channels")
    if times.dtype.kind != "f":
        raise FormatError(source, None, f"spike times have dtype {times.dtype}, expected float seconds")
    if len(times) and not (np.isfinite(times).all() and float(np.abs(times).max()) < MAX_TIMESTAMP_US / 1e6):
        raise FormatError(source, None, "spike times hold NaN, infinity or values beyond ±2**62 µs")
    return {"t": seconds_to_microseconds(times), "x": as_integers(units, source=source, name="units")}


def check_vlen_storage(dataset, start: int, stop: int, path: str) -> None:
    """A FormatError when a variable-length dataset is damaged in a way HDF5 does not survive: its
    datatype is not a sequence, or one of the elements [start, stop) (stored contiguously) has a
    length larger than the file or a global heap collection whose objects do not tile it (a
    zero-sized free-space object made HDF5 loop forever). Each stored element is (u32 length, u64 heap collection address, u32 object
    index: files with 8-byte offsets, as h5py writes them); chunked storage is not checked here."""
    base = require_h5py(path).check_vlen_dtype(dataset.dtype)
    if base is not None:
        # H5Tencode's bytes: 2 bytes of its own, then the datatype message (version << 4 | class,
        # class bits): a variable-length sequence has class 9 and sequence type 0. A damaged type
        # field (2) made HDF5 crash (SIGSEGV) reading the data.
        encoded = dataset.id.get_type().encode()
        if len(encoded) < 4 or encoded[2] & 0x0F != 9 or encoded[3] & 0x0F != 0:
            raise FormatError(path, None, f"{dataset.name}: damaged variable-length datatype")
    offset, n = dataset.id.get_offset(), dataset.shape[0] if dataset.shape else 0
    if offset is None or not n or base is None:
        return
    storage = dataset.id.get_storage_size()
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if offset + storage > size:  # a damaged layout once hung HDF5
            raise FormatError(
                path, offset, f"{dataset.name}: {storage} bytes of storage at byte {offset} do not fit in the {size}-byte file"
            )
        if storage != VLEN_ENTRY.itemsize * n:  # 4-byte file offsets: elements of another size, not checked
            return
        handle.seek(offset + VLEN_ENTRY.itemsize * start)
        entries = np.frombuffer(handle.read(VLEN_ENTRY.itemsize * (stop - start)), VLEN_ENTRY)
        if len(entries) < stop - start:
            raise FormatError(path, offset, f"{dataset.name}: the stored elements end early: truncated")
        for at, (length, _address, _index) in enumerate(entries.tolist()):
            where = offset + VLEN_ENTRY.itemsize * (start + at)
            if length * base.itemsize > size:
                raise FormatError(
                    path,
                    where,
                    f"{dataset.name}[{start + at}] declares {length} values, more than the {size}-byte file holds: corrupt",
                )
        for address in sorted({int(a) for a, length in zip(entries["address"], entries["length"]) if length}):
            _check_heap_collection(handle, address, size, path, dataset.name)


VLEN_ENTRY = np.dtype([("length", "<u4"), ("address", "<u8"), ("index", "<u4")])
_HEAP_OBJECT = np.dtype([("index", "<u2"), ("references", "<u2"), ("reserved", "<u4"), ("size", "<u8")])


def _check_heap_collection(handle, address: int, file_size: int, path: str, name: str) -> None:
    """The global heap collection at ``address`` ("GCOL", version 1, size) is inside the file and
    its objects, each a 16-byte header and its data padded to 8 bytes, tile it exactly, the last
    one the free-space object (index 0) sized to the end."""
    handle.seek(address)
    head = handle.read(16)
    total = int.from_bytes(head[8:16], "little") if len(head) == 16 else 0
    if head[:4] != b"GCOL" or head[4] != 1 or total < 16 or address + total > file_size:
        raise FormatError(path, address, f"{name}: damaged global heap collection")
    data = head + handle.read(total - 16)
    at = 16
    while at + 16 <= total:
        index, _references, _reserved, size = np.frombuffer(data, _HEAP_OBJECT, 1, at)[0].tolist()
        if index == 0:  # free space: the rest of the collection
            if size != total - at:
                raise FormatError(path, address + at, f"{name}: damaged global heap free space ({size} bytes of {total - at})")
            return
        at += 16 + (size + 7) // 8 * 8
        if at > total:
            raise FormatError(path, address, f"{name}: global heap object {index} runs past its collection")


@dataclass(frozen=True)
class HeidelbergTask:
    """Recordings [start, stop) of one SHD/SSC file: spikes/times, spikes/units, labels."""

    path: str
    split: str
    start: int
    stop: int

    @property
    def source(self) -> str:
        return f"{self.path} recordings {self.start}..{self.stop - 1}"

    @guarded("hdf5")
    def run(self) -> list[Sample]:
        with _open_h5(self.path) as h5:
            try:
                for name in ("spikes/times", "spikes/units"):
                    check_vlen_storage(h5[name], self.start, self.stop, self.path)
                times = h5["spikes/times"][self.start : self.stop]
                units = h5["spikes/units"][self.start : self.stop]
                labels = h5["labels"][self.start : self.stop]
            except KeyError as error:
                raise FormatError(
                    self.path, None, f"missing dataset ({error}); expected spikes/times, spikes/units, labels"
                ) from None
        prefix = key_from_path(Path(self.path).name)
        return [
            Sample(f"{prefix}_{index:06d}", int(label), self.split, spike_events(t, x, source=f"{self.path} recording {index}"))
            for index, t, x, label in zip(range(self.start, self.stop), times, units, labels)
        ]


class HeidelbergDataset(DatasetAdapter):
    """SHD and SSC: ``<name>_<split>.h5``, recordings in file order, labels and class names from the file."""

    sensor_size = (700, 1, 1)
    homepage = "https://zenkelab.org/resources/spiking-heidelberg-datasets-shd/"
    can_download = True
    prefix: str
    splits: Sequence[str]

    def plan(self, raw: str | Path) -> Plan:
        # The .h5.zip archives stay closed: HDF5 needs random access, so only extracted files are read.
        files = {file.name: file for file in rawtree.scan(raw, archives=())}
        tasks: list = []
        classes: list[str] | None = None
        for split in self.splits:
            file = files.get(f"{self.prefix}_{split}.h5")
            if file is None:
                zipped = f"{self.prefix}_{split}.h5.zip"
                hint = f"; extract {zipped} first (unzip {zipped}): HDF5 needs random access" if zipped in files else ""
                raise self.missing(raw, f"{self.prefix}_{split}.h5{hint}")
            with _open_h5(file.disk_path) as h5:
                count = len(h5["labels"]) if "labels" in h5 else None
                if count is None:
                    raise FormatError(file.disk_path, None, "no 'labels' dataset")
                if classes is None and "extra/keys" in h5:
                    classes = [key.decode() if isinstance(key, bytes) else str(key) for key in h5["extra/keys"][()]]
            tasks += [
                HeidelbergTask(file.disk_path, split, start, min(start + SAMPLES_PER_TASK, count))
                for start in range(0, count, SAMPLES_PER_TASK)
            ]
        if classes is None:
            raise RawInputError(f"{raw}: {self.prefix}_{self.splits[0]}.h5 has no extra/keys (class names)")
        return Plan(
            classes=classes,
            tasks=tasks,
            extra={
                "label_rule": "the file's labels; class names from extra/keys",
                "time_rule": "t_us = floor(float64(t_seconds) * 1e6)",
            },
        )


@register
class SHD(HeidelbergDataset):
    name = "shd"
    title = "Spiking Heidelberg Digits"
    prefix = "shd"
    splits = ("train", "test")
    resources = (
        ("shd_train.h5.zip", "https://zenkelab.org/datasets/shd_train.h5.zip", "f3252aeb598ac776c1b526422d90eecb"),
        ("shd_test.h5.zip", "https://zenkelab.org/datasets/shd_test.h5.zip", "1503a5064faa34311c398fb0a1ed0a6f"),
    )


@register
class SSC(HeidelbergDataset):
    name = "ssc"
    title = "Spiking Speech Commands"
    prefix = "ssc"
    splits = ("train", "valid", "test")
    # SpikingJelly 2.0 lists SHD's archives for SSC (a copy-paste slip); these are Tonic's.
    resources = (
        ("ssc_train.h5.zip", "https://zenkelab.org/datasets/ssc_train.h5.zip", "d102be95e7144fcc0553d1f45ba94170"),
        ("ssc_valid.h5.zip", "https://zenkelab.org/datasets/ssc_valid.h5.zip", "b4eee3516a4a90dd0c71a6ac23a8ae43"),
        ("ssc_test.h5.zip", "https://zenkelab.org/datasets/ssc_test.h5.zip", "a35ff1e9cffdd02a20eb850c17c37748"),
    )


N_TIDIGITS_CLASSES = ["o", "1", "2", "3", "4", "5", "6", "7", "8", "9", "z"]


@dataclass(frozen=True)
class TidigitsTask:
    """Utterances ``ids`` of one partition of ``n-tidigits.hdf5``."""

    path: str
    split: str
    ids: tuple[str, ...]

    @property
    def source(self) -> str:
        return f"{self.path} {self.split} utterances {self.ids[0]}..{self.ids[-1]}"

    @guarded("hdf5")
    def run(self) -> list[Sample]:
        label_of = {name: index for index, name in enumerate(N_TIDIGITS_CLASSES)}
        samples = []
        with _open_h5(self.path) as h5:
            for utterance in self.ids:
                where = f"{self.path} {self.split} utterance {utterance!r}"
                try:
                    times = h5[f"{self.split}_timestamps"][utterance][()]
                    units = h5[f"{self.split}_addresses"][utterance][()]
                except KeyError:
                    raise FormatError(where, None, f"missing from {self.split}_timestamps or {self.split}_addresses") from None
                digit = utterance.split("-")[-1]
                samples.append(
                    Sample(
                        key_from_path(f"{self.split}/{utterance}"),
                        label_of[digit],
                        self.split,
                        spike_events(times, units, source=where),
                    )
                )
        return samples


@register
class NTIDIGITS18(DatasetAdapter):
    name = "ntidigits18"
    title = "N-TIDIGITS18 (single digits)"
    sensor_size = (64, 1, 1)
    homepage = "https://docs.google.com/document/d/1Uxe7GsKKXcy6SlDUX4hoJVAC0-UkH-8kr5UXp0Ndi1M"
    can_download = True
    resources = (
        (
            "n-tidigits.hdf5",
            "https://www.dropbox.com/scl/fi/1x4lxt9yyw25sc3tez8oi/n-tidigits.hdf5?e=2&rlkey=w8gi5udvib2zqzosusa5tr3wq&dl=1",
            "360a2d11e5429555c9197381cf6b58e0",
        ),
    )

    def plan(self, raw: str | Path) -> Plan:
        files: list[RawFile] = [file for file in rawtree.scan(raw, archives=()) if file.name == "n-tidigits.hdf5"]
        if not files:
            raise self.missing(raw, "n-tidigits.hdf5")
        path = files[0].disk_path
        tasks: list = []
        with _open_h5(path) as h5:
            for split in ("train", "test"):
                if f"{split}_labels" not in h5:
                    raise FormatError(path, None, f"no '{split}_labels' dataset")
                ids = [name.decode() if isinstance(name, bytes) else str(name) for name in h5[f"{split}_labels"][()]]
                # Tonic's single_digits=True: utterances whose last '-' field is one digit.
                single = tuple(name for name in ids if len(name.split("-")[-1]) == 1)
                unknown = [name for name in single if name.split("-")[-1] not in N_TIDIGITS_CLASSES]
                if unknown:
                    raise FormatError(path, None, f"{split} utterance {unknown[0]!r} names no known digit")
                tasks += [
                    TidigitsTask(path, split, single[start : start + SAMPLES_PER_TASK])
                    for start in range(0, len(single), SAMPLES_PER_TASK)
                ]
        return Plan(
            classes=list(N_TIDIGITS_CLASSES),
            tasks=tasks,
            extra={
                "label_rule": "Tonic's single_digits class_map: o 1..9 z -> 0..10; multi-digit utterances left out",
                "time_rule": "t_us = floor(float64(t_seconds) * 1e6)",
            },
        )
