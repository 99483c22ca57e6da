"""What every dataset adapter provides, and the work units it hands to the shard writer.

An adapter looks at the raw tree the user downloaded (``rawtree.scan``), and returns a ``Plan``:
class names, and an ordered list of picklable ``Task`` objects, each of which reads one raw file
and returns the labelled samples it holds. The order of the tasks fixes the order of the shards.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from neuroshards.events import Events
from neuroshards.keys import key_from_path
from neuroshards.record import PackedEvents

from ..formats import FormatError
from ..formats.rawtree import RawFile, RawInputError, scan, verify_archives


@dataclass
class Sample:
    key: str
    label: int
    split: str
    events: Events | PackedEvents  # PackedEvents: decoded straight into the record's field layout


class Task(Protocol):
    """A picklable unit of conversion work; ``source`` names it in error messages.

    ``run`` may return a generator; a task with a true ``streaming`` attribute is consumed lazily
    in the writer's process (for many samples cut from one long recording)."""

    source: str

    def run(self) -> Iterable[Sample]: ...


@dataclass(frozen=True)
class FileTask:
    """One raw file that holds one sample; ``read`` is a module-level function (so it pickles)."""

    file: RawFile
    key: str
    label: int
    split: str
    read: Callable[[RawFile], Events | PackedEvents]

    @property
    def source(self) -> str:
        return self.file.location

    def run(self) -> list[Sample]:
        return [Sample(self.key, self.label, self.split, self.read(self.file))]

    @classmethod
    def from_path(cls, file: RawFile, relpath: str, label: int, split: str, read) -> FileTask:
        """The task of ``file``, keyed by its path in the dataset (``key_from_path(relpath)``)."""
        return cls(file, key_from_path(relpath), label, split, read)


def matching(files: list[RawFile], pattern: re.Pattern) -> list[tuple[re.Match, str, RawFile]]:
    """(match, path from the match on, file) of every file whose path matches ``pattern``."""
    return [(match, file.relpath[match.start() :].lstrip("/"), file) for file in files if (match := pattern.search(file.relpath))]


def class_folder_tasks(found: list[tuple[str, str, str, RawFile]], read) -> tuple[list[str], list[FileTask]]:
    """Classes and tasks of (split, class folder, path, file) items as torchvision's DatasetFolder,
    which SpikingJelly uses, labels them: class folder names in sorted order. Train comes first."""
    classes = sorted({cls for _, cls, _, _ in found})
    label_of = {cls: index for index, cls in enumerate(classes)}
    found = sorted(found, key=lambda item: (item[0] != "train", label_of[item[1]], item[2]))
    return classes, [FileTask.from_path(file, relpath, label_of[cls], split, read) for split, cls, relpath, file in found]


@dataclass
class Plan:
    classes: list[str]
    tasks: list[Task]
    # Dataset-specific facts for the index (split rules, label conventions, ...).
    extra: dict[str, Any] = field(default_factory=dict)


class DatasetAdapter:
    """Base class of the built-in datasets. Subclasses set the class attributes and ``plan``."""

    name: ClassVar[str]
    title: ClassVar[str]
    sensor_size: ClassVar[tuple[int, int, int]]
    homepage: ClassVar[str] = ""
    #: (file name, url, md5) of what the authors distribute, as SpikingJelly lists them.
    resources: ClassVar[Sequence[tuple[str, str, str]]] = ()
    #: True when the files can be fetched without a licence form or manual step.
    can_download: ClassVar[bool] = False
    #: True when archives inside the distribution (one zip per class, ...) are read in place too,
    #: not only the published archives listed in ``resources``.
    open_every_archive: ClassVar[bool] = False
    #: False when ``convert`` can run without ``--raw`` (a manifest names its files itself).
    raw_required: ClassVar[bool] = True

    def __init__(self, **options: Any):
        if options:
            raise TypeError(f"dataset {self.name!r} takes no options, got {sorted(options)}")
        self.options: dict[str, Any] = {}

    @classmethod
    def add_arguments(cls, parser) -> None:
        """Adapter-specific command-line options (``shardgen convert NAME --option``)."""

    @classmethod
    def options_from_arguments(cls, args) -> dict[str, Any]:
        """The keyword options of ``__init__`` taken from the parsed command line."""
        return {}

    @classmethod
    def resource_url_md5(cls) -> list[tuple[str, str, str]]:
        return list(cls.resources)

    @classmethod
    def downloadable(cls) -> bool:
        return cls.can_download

    @classmethod
    def where_to_get(cls) -> str:
        names = [name for name, _url, _md5 in cls.resources]
        listed = ", ".join(names) if len(names) <= 4 else f"{names[0]} ... {names[-1]} ({len(names)} files)"
        how = "download" if cls.can_download else "download by hand (licence terms)"
        return f"{cls.title}: {how} {listed} from {cls.homepage}"

    def verify(self, raw: str | Path) -> list[str]:
        """MD5-check the distributed archives found under ``raw`` (those with a published MD5)."""
        return verify_archives(raw, [resource for resource in self.resource_url_md5() if resource[2]])

    def plan(self, raw: str | Path) -> Plan:
        raise NotImplementedError

    # Helpers shared by adapters ------------------------------------------------------------

    def scan(self, raw: str | Path) -> list[RawFile]:
        archives = [name for name, _url, _md5 in self.resources]
        files = scan(raw, archives=None if self.open_every_archive or not archives else archives)
        if not files:
            raise RawInputError(f"{raw}: no files found. {self.where_to_get()}")
        return files

    def missing(self, raw: str | Path, what: str) -> RawInputError:
        return RawInputError(f"{raw}: {what} not found. {self.where_to_get()}")


__all__ = [
    "DatasetAdapter",
    "FileTask",
    "FormatError",
    "Plan",
    "RawFile",
    "RawInputError",
    "Sample",
    "Task",
    "key_from_path",
]
