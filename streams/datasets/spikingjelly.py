"""SpikingJelly 2.0's dataset classes, reading neuroshards shards instead of SpikingJelly's folders.

Each class has SpikingJelly's name and constructor arguments, and ``ds[i]`` returns what
SpikingJelly's ``ds[i]`` returns for the same recording: ``(events, label)`` with ``data_type="event"``
(a dict of NumPy arrays with SpikingJelly's keys and dtypes; DVS-Lip: its structured array),
``(frames, label)`` with ``data_type="frame"`` (float32 ``[T, 2, H, W]``; ``[T, W]`` for SHD and SSC),
in SpikingJelly's sample order and with its labels. So switching is a change of import and of
``root``, which names the shard folder ``shardgen convert`` wrote::

    from streams.datasets import DVS128Gesture   # was: from spikingjelly.datasets.dvs128_gesture import ...
    train = DVS128Gesture("shards/dvs128gesture", train=True, data_type="frame", frames_number=20, split_by="number")

What SpikingJelly computes once and stores in ``root`` (events as ``.npz``, one folder of frames per
configuration) is computed here when a sample is read, by ``streams.functional`` (SpikingJelly's
integration, exact): any configuration costs no disk space and no preparation.
``custom_integrated_frames_dir_name`` is accepted and unused, as nothing is written.

SpikingJelly's rules kept on purpose (tested against SpikingJelly 2.0 on fixtures of every dataset):

* Samples are ordered as torchvision's ``DatasetFolder`` lists SpikingJelly's files: class folders
  sorted as strings, then file names sorted as strings. Labels are the index of the class folder in
  that order: DVS128 Gesture's folders ``0`` ... ``10`` (label 10 -> 2, 2 -> 3, ...) and the SHD / SSC
  frame folders (``0``, ``1``, ``10``, ...) are numbered as strings, as SpikingJelly numbers them.
* ``duration`` frames: SpikingJelly names each frames file ``<name>_<T>.npz``, so where one file name
  is the start of another (``cifar10_airplane_1``, ``cifar10_airplane_10``) the order depends on the
  number of frames. That order is kept: building such a dataset reads those samples once.
* SHD and SSC with ``data_type="event"`` are in file order with the file's uint16 labels (no folders).

Keyword-only options give the plain rules instead: ``labels="dataset"`` the index's labels
(``index.classes``: DVS128 Gesture csv class - 1, SHD/SSC the file's labels) and ``order="events"``
the order of the event files in every configuration (``duration`` included, which then needs no read).

Where SpikingJelly cannot give a sample, the rule of ``streams.functional`` holds instead (SpikingJelly
raises there and its dataset cannot be built at all): an empty recording, or an empty time window
with ``split_by="time"``, gives zero frames; one timestamp gives one frame with ``duration``.
A one-event ASL-DVS file gives 1-D arrays (SpikingJelly's ``squeeze`` makes them 0-D, which its own
integration then rejects). Events are stored once, in one dtype per field; where SpikingJelly's
dtype follows the file (ASL-DVS ``.mat`` variables, an empty Bullying10K file) these classes give
the dtype of the published files. Values as stored: SHD/SSC times are float16 seconds rebuilt from
µs, exact for t >= 2**-9 s; ES-ImageNet events at equal times keep a stable order (SpikingJelly's
unstable sort orders them by the NumPy build), so ``split_by="number"`` frames may differ there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch.utils.data

import streams
from neuroshards.events import microseconds_to_float16_seconds
from neuroshards.index import INDEX_NAME
from neuroshards.keys import key_from_path

from ..functional import integrate_events_by_fixed_duration, integrate_events_by_fixed_frames_number, one_dimensional
from ..splits import tebn_split

FRAME_DTYPE = np.float32  # SpikingJelly saves frames and loads them back as float32 (load_npz_frames)
SPIKINGJELLY_FOLDERS = ("download", "extract", "events_np", "events_h5")
# Which of them shardgen can convert, best first: the extracted files (SpikingJelly's download may
# hold nested or RAR archives, or zipped HDF5), but for DVS128 Gesture the download, which alone
# holds gesture_mapping.csv. events_np holds SpikingJelly's own .npz, not the published files.
RAW_FOLDERS = {None: ("extract", "events_h5", "download"), "dvs128gesture": ("download", "extract")}
# order="events": SpikingJelly's order of event files for every configuration (duration frames
# included, which then cost no read to order); labels="dataset": the index's labels (class names
# in index.classes) instead of SpikingJelly's folder numbering.
CHOICES = {"order": ("spikingjelly", "events"), "labels": ("spikingjelly", "dataset")}


class NeuromorphicDatasetFolder(torch.utils.data.Dataset):
    """The shared machinery; a subclass names its dataset and SpikingJelly's file naming rules."""

    dataset: ClassVar[str]  # the shardgen convert name
    #: SpikingJelly's event fields and dtypes, in the order of its dict.
    event_dtypes: ClassVar[Mapping[str, Any]] = {"t": np.int64, "x": np.int64, "y": np.int64, "p": np.int64}
    #: The extension of SpikingJelly's event files (DatasetFolder sorts names with it).
    event_suffix: ClassVar[str] = ".npz"

    def __init__(
        self,
        root: str | os.PathLike,
        split: str,
        data_type: str = "event",
        frames_number: int | None = None,
        split_by: str | None = None,
        duration: int | None = None,
        custom_integrate_function: Callable | None = None,
        custom_integrated_frames_dir_name: str | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        *,
        order: str = "spikingjelly",
        labels: str = "spikingjelly",
    ) -> None:
        check_configuration(data_type, frames_number, split_by, duration, custom_integrate_function)
        for name, value in (("order", order), ("labels", labels)):
            if value not in CHOICES[name]:
                raise ValueError(f"{name} must be one of {CHOICES[name]}, got {value!r}")
        self.order_rule, self.label_rule = order, labels
        self.root = root
        self.split = split
        self.data_type = data_type
        self.frames_number = frames_number
        self.split_by = split_by
        self.duration = duration
        self.custom_integrate_function = custom_integrate_function
        self.custom_integrated_frames_dir_name = custom_integrated_frames_dir_name
        self.transform = transform
        self.target_transform = target_transform
        self.shards = open_shards(self.root, self.dataset, split)
        width, height = self.shards.index.sensor_size[:2]
        self.H, self.W = height, width
        self.classes = list(self.shards.index.classes)
        self._storage_keys = [key.decode() if isinstance(key, bytes) else str(key) for key in self.shards.keys]
        self._order, self.targets = self._spikingjelly_order()

    # SpikingJelly's files: a subclass overrides what differs --------------------------------

    def class_folder(self, label: int) -> str:
        """The name of SpikingJelly's class folder of our ``label``."""
        return self.classes[label]

    def file_stem(self, key: str, folder: str) -> str:
        """SpikingJelly's file name (without extension) of the sample ``key`` in ``folder``."""
        return key

    def spikingjelly_events(self, events: Mapping[str, np.ndarray]) -> Any:
        """A decoded sample's events as SpikingJelly's event loader returns them."""
        return {name: np.asarray(events[name]).astype(dtype, copy=False) for name, dtype in self.event_dtypes.items()}

    def integrate(self, events: Mapping[str, np.ndarray]) -> np.ndarray:
        """Frames of the configured kind, from the decoded events (int64 µs, as stored)."""
        if self.frames_number is not None:
            return integrate_events_by_fixed_frames_number(
                events, self.split_by, self.frames_number, self.H, self.W, dtype=FRAME_DTYPE
            )
        return integrate_events_by_fixed_duration(events, self.duration, self.H, self.W, dtype=FRAME_DTYPE)

    def _frames_file_name(self, stem: str, storage_index: int | None) -> str:
        """SpikingJelly's name of a sample's file in this configuration (``storage_index``: the
        sample, when the name depends on its frame count; None when it cannot matter)."""
        if self.data_type == "event" or self.order_rule == "events":
            return stem + self.event_suffix
        if self.duration is not None:  # integrate_events_file_to_frames_file_by_fixed_duration
            frames = 0 if storage_index is None else len(self._data(self.shards[storage_index]["events"]))
            return f"{stem}_{frames}.npz"
        name = stem + self.event_suffix  # np.savez appends .npz unless the name has it
        return name if name.endswith(".npz") else name + ".npz"

    # Order and labels --------------------------------------------------------------------------

    def _spikingjelly_order(self) -> tuple[np.ndarray, list[int]]:
        """Storage indices in SpikingJelly's order, and SpikingJelly's label of each."""
        keys, labels = self._storage_keys, self.shards.labels
        folders = [self.class_folder(label) for label in range(len(self.classes))]
        label_of_folder = {folder: index for index, folder in enumerate(sorted(folders))}
        folder_of = [folders[int(label)] for label in labels]
        stems = [self.file_stem(key, folder) for key, folder in zip(keys, folder_of)]
        counted = (
            stems_needing_frame_counts(folder_of, stems) if self.data_type == "frame" and self.duration is not None else set()
        )
        names = [self._frames_file_name(stem, i if i in counted else None) for i, stem in enumerate(stems)]
        order = sorted(range(len(keys)), key=lambda i: (folder_of[i], names[i]))
        if self.label_rule == "dataset":
            return np.asarray(order, dtype=np.int64), [int(labels[i]) for i in order]
        return np.asarray(order, dtype=np.int64), [label_of_folder[folder_of[i]] for i in order]

    # Access -------------------------------------------------------------------------------------

    def _data(self, events: Mapping[str, np.ndarray]) -> Any:
        if self.data_type == "event":
            return self.spikingjelly_events(events)
        if self.custom_integrate_function is not None:
            frames = self.custom_integrate_function(self.spikingjelly_events(events), self.H, self.W)
            return np.asarray(frames).astype(FRAME_DTYPE)
        return self.integrate(events)

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        sample = self.shards[int(self._order[index])]
        data, label = self._data(sample["events"]), self.targets[index]
        if self.transform is not None:
            data = self.transform(data)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return data, label

    @property
    def keys(self) -> list[str]:
        """Our sample keys, in this dataset's (SpikingJelly's) order."""
        return [self._storage_keys[i] for i in self._order]

    def __repr__(self) -> str:
        frames = {"frames_number": self.frames_number, "split_by": self.split_by, "duration": self.duration}
        options = ", ".join(f"{k}={v!r}" for k, v in frames.items() if v is not None)
        return f"{type(self).__name__}({str(self.root)!r}, split={self.split!r}, data_type={self.data_type!r}{', ' + options if options else ''}): {len(self)} samples"


def check_configuration(data_type, frames_number, split_by, duration, custom_integrate_function) -> None:
    """SpikingJelly's argument rules (NeuromorphicDatasetConfig), with its messages."""
    if data_type not in ("event", "frame"):
        raise ValueError(f'data_type must be "event" or "frame", but got {data_type}')
    if data_type == "event":
        return
    if sum(option is not None for option in (frames_number, duration, custom_integrate_function)) != 1:
        raise ValueError(
            'When data_type="frame", one and only one of "frames_number", "duration", or "custom_integrate_function" should be set.'
        )
    if frames_number is not None:
        if not isinstance(frames_number, int) or frames_number <= 0:
            raise ValueError("frames_number must be a positive integer")
        if split_by not in ("time", "number"):
            raise ValueError('split_by must be "time" or "number"')
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        raise ValueError("duration must be a positive integer")


def stems_needing_frame_counts(folders: list[str], stems: list[str]) -> set[int]:
    """Samples whose ``<stem>_<T>.npz`` may sort differently for another T: those whose stem is the
    start of another stem in the same folder, or has one as its start. Any other pair of names
    differs inside both stems, so T cannot change their order."""
    needed: set[int] = set()
    chain: list[int] = []  # the nested stems that start the current one, outermost first
    for i in sorted(range(len(stems)), key=lambda i: (folders[i], stems[i])):
        while chain and not (folders[chain[-1]] == folders[i] and stems[i].startswith(stems[chain[-1]])):
            chain.pop()
        if chain:
            needed.update((chain[-1], i))
        chain.append(i)
    return needed


def open_shards(root: str | os.PathLike, dataset: str, split: str):
    """The split's ``streams.ShardDataset``, or an error saying how to make the shards (a local
    ``root``; a URL is for ``ShardDataset`` to judge)."""
    if "://" not in str(root) and not (Path(root) / INDEX_NAME).is_file():
        raise FileNotFoundError(missing_shards_message(Path(root), dataset))
    shards = streams.ShardDataset(root, split=split)
    if shards.index.dataset != dataset:
        raise ValueError(f"{root}: holds the shards of {shards.index.dataset!r}, not of {dataset!r}")
    return shards


def missing_shards_message(root: Path, dataset: str) -> str:
    """Which ``shardgen convert`` command makes the shards that ``root`` lacks."""
    from shardgen.datasets import get_dataset  # the converter's catalogue, only to write this advice

    adapter = get_dataset(dataset)
    out = root / "shards" if root.is_dir() and any(root.iterdir()) else root
    if not root.exists():
        found, raw = f"{root} does not exist", "<the folder of the download>"
    else:
        published = {name for name, _url, _md5 in adapter.resources}
        spikingjelly = [root / name for name in SPIKINGJELLY_FOLDERS if (root / name).is_dir()]
        if spikingjelly:  # SpikingJelly's root: its extracted (or download) folder is the raw input
            usable = [root / name for name in RAW_FOLDERS.get(dataset, RAW_FOLDERS[None]) if (root / name).is_dir()]
            raw = str(usable[0]) if usable else "<the folder of the download>"
            found = f"{root} holds SpikingJelly's folders ({', '.join(folder.name for folder in spikingjelly)}), no neuroshards shards"
        elif published & {path.name for path in root.iterdir()}:
            raw, found = str(root), f"{root} holds the {adapter.title} download, no neuroshards shards"
        else:
            raw, found = "<the folder of the download>", f"{root} holds no {INDEX_NAME} (no neuroshards shards)"
    options = " --allow-pickle" if dataset == "bullying10k" else ""
    return (
        f"{found}. Make the shards with\n    shardgen convert {dataset} --raw {raw} --out {out}{options}\n"
        f"and pass root={str(out)!r}. ({adapter.where_to_get()})"
    )


def after_prefix(key: str, prefix: str) -> str:
    """``key`` without ``prefix``; a key of another form is a clear error."""
    if not key.startswith(prefix):
        raise ValueError(f"sample key {key!r} does not start with {prefix!r}: not a key shardgen writes for this dataset")
    return key[len(prefix) :]


# Splits: SpikingJelly's four ways to choose one ------------------------------------------------


class _TrainTestFolder(NeuromorphicDatasetFolder):
    """A dataset with a train and a test split, chosen by ``train``."""

    def __init__(
        self,
        root: str | os.PathLike,
        train: bool = True,
        data_type: str = "event",
        frames_number: int | None = None,
        split_by: str | None = None,
        duration: int | None = None,
        custom_integrate_function: Callable | None = None,
        custom_integrated_frames_dir_name: str | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        *,
        order: str = "spikingjelly",
        labels: str = "spikingjelly",
    ) -> None:
        if train is None:
            raise ValueError("`train` must be `True` or `False`")
        super().__init__(
            root,
            "train" if train else "test",
            data_type,
            frames_number,
            split_by,
            duration,
            custom_integrate_function,
            custom_integrated_frames_dir_name,
            transform,
            target_transform,
            order=order,
            labels=labels,
        )


class _WholeFolder(NeuromorphicDatasetFolder):
    """A dataset without a published split: the class holds all of it (SpikingJelly: ``train=None``;
    split it with ``torch.utils.data.random_split`` or ``streams.splits``)."""

    def __init__(
        self,
        root: str | os.PathLike,
        data_type: str = "event",
        frames_number: int | None = None,
        split_by: str | None = None,
        duration: int | None = None,
        custom_integrate_function: Callable | None = None,
        custom_integrated_frames_dir_name: str | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        *,
        order: str = "spikingjelly",
        labels: str = "spikingjelly",
    ) -> None:
        super().__init__(
            root,
            "all",
            data_type,
            frames_number,
            split_by,
            duration,
            custom_integrate_function,
            custom_integrated_frames_dir_name,
            transform,
            target_transform,
            order=order,
            labels=labels,
        )


# The datasets --------------------------------------------------------------------------------


class DVS128Gesture(_TrainTestFolder):
    """SpikingJelly's folders are ``<label>/<trial>_<k>.npz`` (label = csv class - 1); its labels
    number the folders as strings, so SpikingJelly's label is ``extra.spikingjelly_labels[label]``."""

    dataset = "dvs128gesture"

    def class_folder(self, label: int) -> str:
        return str(label)

    def file_stem(self, key: str, folder: str) -> str:
        trial = key.rpartition(f"_{folder}_")  # shardgen: <trial>_<label>_<k>
        if not trial[1] or not trial[2].isdigit():
            raise ValueError(f"sample key {key!r} is not <trial>_{folder}_<k>: not a key shardgen writes for DVS128 Gesture")
        return f"{trial[0]}_{trial[2]}"


class CIFAR10DVS(_WholeFolder):
    """Keys are SpikingJelly's file names; t keeps the big-endian uint32 of the AEDAT file."""

    dataset = "cifar10dvs"
    event_dtypes = {"t": np.dtype(">u4"), "x": np.uint32, "y": np.uint32, "p": np.int64}


class CIFAR10DVSTEBNSplit(CIFAR10DVS):
    """CIFAR10-DVS split as TEBN (Duan et al., 2022) split it: files 0-99 of each class test, the
    others train (``streams.splits.tebn_split``), each set in SpikingJelly's order.
    (SpikingJelly links the files ``cifar10_<class>_<n>.npz`` into its train/test folders, which with
    ``duration`` match no frames file, named ``<name>_<T>.npz``; here every configuration works.)"""

    def __init__(
        self,
        root: str | os.PathLike,
        train: bool = True,
        data_type: str = "event",
        frames_number: int | None = None,
        split_by: str | None = None,
        duration: int | None = None,
        custom_integrate_function: Callable | None = None,
        custom_integrated_frames_dir_name: str | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        *,
        order: str = "spikingjelly",
        labels: str = "spikingjelly",
    ) -> None:
        if train is None:
            raise ValueError("`train` must be `True` or `False`")
        self.train = train
        super().__init__(
            root,
            data_type,
            frames_number,
            split_by,
            duration,
            custom_integrate_function,
            custom_integrated_frames_dir_name,
            transform,
            target_transform,
            order=order,
            labels=labels,
        )

    def _spikingjelly_order(self) -> tuple[np.ndarray, list[int]]:
        order, targets = super()._spikingjelly_order()
        train, test = tebn_split(self.shards.index)
        chosen = set(train if self.train else test)
        keep = [position for position, i in enumerate(order) if self._storage_keys[i] in chosen]
        return order[keep], [targets[position] for position in keep]


class NMNIST(_TrainTestFolder):
    """``load_ATIS_bin``: every field uint32. Keys are ``<Split>_<digit>_<file>``."""

    dataset = "nmnist"
    event_dtypes = {name: np.uint32 for name in "txyp"}

    def file_stem(self, key: str, folder: str) -> str:
        return after_prefix(key, f"{self.split.capitalize()}_{key_from_path(folder)}_")


class NCaltech101(_WholeFolder):
    dataset = "ncaltech101"
    event_dtypes = NMNIST.event_dtypes

    def file_stem(self, key: str, folder: str) -> str:
        return after_prefix(key, f"{key_from_path(folder)}_")


class ASLDVS(NCaltech101):
    """The published ``.mat`` files hold MATLAB doubles: float64 fields."""

    dataset = "asldvs"
    event_dtypes = {name: np.float64 for name in "txyp"}


class DVSLip(_TrainTestFolder):
    """SpikingJelly links DVS-Lip's own ``.npy`` files and returns their structured arrays."""

    dataset = "dvslip"
    event_suffix = ".npy"
    event_dtypes = {"t": np.dtype("<i4"), "x": np.int8, "y": np.int8, "p": np.int8}
    structured_dtype = np.dtype([(name, dtype) for name, dtype in event_dtypes.items()])

    def file_stem(self, key: str, folder: str) -> str:
        return after_prefix(key, f"{self.split}_{key_from_path(folder)}_")

    def spikingjelly_events(self, events: Mapping[str, np.ndarray]) -> np.ndarray:
        array = np.empty(len(events["t"]), self.structured_dtype)
        for name in self.structured_dtype.names:
            array[name] = events[name]
        return array


class HARDVS(NeuromorphicDatasetFolder):
    """``train_test_val``: ``"train"``, ``"val"`` or ``"test"``. Fields as in HARDVS's ``.npz``."""

    dataset = "hardvs"
    event_dtypes = {"t": np.int64, "x": np.int16, "y": np.int16, "p": np.int8}

    def __init__(
        self,
        root: str | os.PathLike,
        train_test_val: str | None = None,
        data_type: str = "event",
        frames_number: int | None = None,
        split_by: str | None = None,
        duration: int | None = None,
        custom_integrate_function: Callable | None = None,
        custom_integrated_frames_dir_name: str | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        *,
        order: str = "spikingjelly",
        labels: str = "spikingjelly",
    ) -> None:
        if train_test_val not in ("train", "val", "test"):  # SpikingJelly fails later on None (Path / None)
            raise ValueError(f'train_test_val must be "train", "val" or "test", but got {train_test_val!r}')
        super().__init__(
            root,
            train_test_val,
            data_type,
            frames_number,
            split_by,
            duration,
            custom_integrate_function,
            custom_integrated_frames_dir_name,
            transform,
            target_transform,
            order=order,
            labels=labels,
        )

    def file_stem(self, key: str, folder: str) -> str:
        return after_prefix(key, f"{self.split}_{key_from_path(folder)}_")


class Bullying10kClassification(_TrainTestFolder):
    """SpikingJelly flattens ``<class>/<take>/<name>.npy`` into ``<label>/<name>.npz``; the fields
    are those of dv's event packets. Keys are ``<class>_<take>_<name>`` (one take folder)."""

    dataset = "bullying10k"
    event_dtypes = {"t": np.int64, "x": np.int16, "y": np.int16, "p": np.int8}

    def class_folder(self, label: int) -> str:
        return str(label)

    def file_stem(self, key: str, folder: str) -> str:
        take_and_name = after_prefix(key, f"{key_from_path(self.classes[int(folder)])}_")
        return take_and_name.split("_", 1)[1]


class ESImageNet(_TrainTestFolder):
    """Events from ``pos``/``neg`` float arrays: float64 fields, in SpikingJelly's dict order."""

    dataset = "esimagenet"
    event_dtypes = {"x": np.float64, "y": np.float64, "t": np.float64, "p": np.float64}

    def file_stem(self, key: str, folder: str) -> str:
        return after_prefix(key, f"train_{key_from_path(folder)}_" if self.split == "train" else "val_")


class NAVGestureWalk(_WholeFolder):
    """Keys are SpikingJelly's file names; fields int64 (its reader's arrays)."""

    dataset = "navgesture-walk"


class NAVGestureSit(NAVGestureWalk):
    dataset = "navgesture-sit"


class SpikingHeidelbergDigits(_TrainTestFolder):
    """Events ``{"t": float16 seconds, "x": uint16 channel}`` with the file's uint16 label, in file
    order; frames ``[T, 700]`` from ``<label>/<index>.npz`` folders (labels numbered as strings).
    ``duration`` is in ms, as SpikingJelly's SHD takes it. SpikingJelly's custom integration for
    SHD writes files itself (``function(h5_file, i, output_dir, W)``); here
    ``custom_integrate_function(events, W)`` returns the frames of one sample instead."""

    dataset = "shd"

    def class_folder(self, label: int) -> str:
        return str(label)

    def file_stem(self, key: str, folder: str) -> str:
        return str(int(key.rsplit("_", 1)[1]))  # shardgen: <file>_<index in the file>

    def _spikingjelly_order(self) -> tuple[np.ndarray, list]:
        if self.data_type != "event":
            return super()._spikingjelly_order()
        order = np.argsort([int(self.file_stem(key, "")) for key in self._storage_keys], kind="stable")
        label_type, labels = int if self.label_rule == "dataset" else np.uint16, self.shards.labels
        return order.astype(np.int64), [label_type(labels[i]) for i in order]

    def _frames_file_name(self, stem: str, storage_index: int | None) -> str:
        return stem + ".npz"  # SpikingJelly's SHD frames are <label>/<index>.npz in every configuration

    def spikingjelly_events(self, events: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"t": microseconds_to_float16_seconds(events["t"]), "x": np.asarray(events["x"]).astype(np.uint16, copy=False)}

    def _data(self, events: Mapping[str, np.ndarray]) -> Any:
        if self.data_type == "frame" and self.custom_integrate_function is not None:
            return np.asarray(self.custom_integrate_function(self.spikingjelly_events(events), self.W)).astype(FRAME_DTYPE)
        return super()._data(events)

    def integrate(self, events: Mapping[str, np.ndarray]) -> np.ndarray:
        if self.frames_number is not None:
            return one_dimensional.integrate_events_by_fixed_frames_number(
                events, self.split_by, self.frames_number, self.W, dtype=FRAME_DTYPE
            )
        return one_dimensional.integrate_events_by_fixed_duration(events, self.duration * 1000, self.W, dtype=FRAME_DTYPE)


class SpikingSpeechCommands(SpikingHeidelbergDigits):
    """``split``: ``"train"``, ``"valid"`` or ``"test"``; otherwise as SHD."""

    dataset = "ssc"

    def __init__(
        self,
        root: str | os.PathLike,
        split: str = "train",
        data_type: str = "event",
        frames_number: int | None = None,
        split_by: str | None = None,
        duration: int | None = None,
        custom_integrate_function: Callable | None = None,
        custom_integrated_frames_dir_name: str | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        *,
        order: str = "spikingjelly",
        labels: str = "spikingjelly",
    ) -> None:
        splits = ("train", "valid", "test")
        if split not in splits:
            raise ValueError(f"Invalid split: {split}; valid splits are {splits}")
        NeuromorphicDatasetFolder.__init__(
            self,
            root,
            split,
            data_type,
            frames_number,
            split_by,
            duration,
            custom_integrate_function,
            custom_integrated_frames_dir_name,
            transform,
            target_transform,
            order=order,
            labels=labels,
        )


__all__ = [
    "ASLDVS",
    "Bullying10kClassification",
    "CIFAR10DVS",
    "CIFAR10DVSTEBNSplit",
    "DVS128Gesture",
    "DVSLip",
    "ESImageNet",
    "HARDVS",
    "NAVGestureSit",
    "NAVGestureWalk",
    "NCaltech101",
    "NMNIST",
    "NeuromorphicDatasetFolder",
    "SpikingHeidelbergDigits",
    "SpikingSpeechCommands",
]
