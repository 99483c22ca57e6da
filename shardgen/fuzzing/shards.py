"""The fuzz targets of what readers of a dataset take in: shards, index files and event records.

Each reads a mutated file the way training does (``EventStream`` over a dataset folder built
around it, a map-style read, or the index-free tar reader) and must end in one of the project's
errors (``NeuroshardsError``) naming the file, or return: never crash, hang, or raise anything
else. Seeds are a small dataset written by the tests' shard writer. The folder built around an
input is named after it, so every error names the input.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from pathlib import Path

import xxhash

from neuroshards.errors import NeuroshardsError
from neuroshards.index import INDEX_NAME, samples_file_name
from neuroshards.tar import iter_samples
from streams import EventStream, ShardDataset
from streams.stages import decode_sample

from ..synthetic.shards import write_uneven_shards
from .engine import Target

EXPECTED = (NeuroshardsError,)
SAMPLES = samples_file_name(INDEX_NAME)


@functools.cache
def dataset() -> Path:
    """A small dataset of two shards, written once per process."""
    root = Path(tempfile.mkdtemp(prefix="fuzz-dataset-")) / "ds"
    write_uneven_shards(root, [4, 3])
    return root


def _shards() -> list[Path]:
    return sorted(dataset().glob("*.tar"))


def _read_all(folder: Path) -> None:
    for _sample in EventStream(folder, split="train"):
        pass
    shards = ShardDataset(folder, split="train")
    for item in range(len(shards)):
        shards[item]


def _folder_for(path: str) -> Path:
    """An empty folder named after the input (``<input>.dataset``)."""
    folder = Path(path + ".dataset")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def read_dataset_with_shard(path: str) -> None:
    """The input is the first shard of a dataset whose index is as written."""
    folder = _folder_for(path)
    header = json.loads((dataset() / INDEX_NAME).read_text())
    header["shards"][0]["path"] = f"../{Path(path).name}"
    for shard in header["shards"][1:]:
        shutil.copyfile(dataset() / shard["path"], folder / shard["path"])
    shutil.copyfile(dataset() / SAMPLES, folder / SAMPLES)
    (folder / INDEX_NAME).write_text(json.dumps(header))
    _read_all(folder)


def read_dataset_with_index(path: str, *, columns: bool) -> None:
    """The input is the dataset's ``index.json`` (``columns=False``) or its ``index.samples``,
    which the JSON header then describes (size and checksum), as a faulty tool would write it."""
    folder = _folder_for(path)
    for shard in _shards():
        shutil.copyfile(shard, folder / shard.name)
    data = Path(path).read_bytes()
    if columns:
        header = json.loads((dataset() / INDEX_NAME).read_text())
        header["samples"].update(bytes=len(data), xxh3_64=format(xxhash.xxh3_64_intdigest(data), "016x"))
        (folder / SAMPLES).write_bytes(data)
        (folder / INDEX_NAME).write_text(json.dumps(header))
    else:
        shutil.copyfile(dataset() / SAMPLES, folder / SAMPLES)
        (folder / INDEX_NAME).write_bytes(data)
    _read_all(folder)


def read_tar_without_index(path: str) -> None:
    """The input is a shard read sequentially, as without an index (``iter_samples``), each sample decoded."""
    with open(path, "rb") as stream:
        for sample in iter_samples(stream, path):
            decode_sample(sample)


def read_record(path: str) -> None:
    """The input is one sample's ``events.msgpack`` record."""
    decode_sample({"__key__": Path(path).stem, "__url__": path, "events.msgpack": Path(path).read_bytes(), "cls": b"1"})


def _first_record() -> bytes:
    with open(_shards()[0], "rb") as stream:
        return next(iter_samples(stream, "seed"))["events.msgpack"]


TARGETS = [
    Target("shard", lambda: [(shard.name, shard.read_bytes()) for shard in _shards()], read_dataset_with_shard, ".tar"),
    Target(
        "shard-without-index", lambda: [(shard.name, shard.read_bytes()) for shard in _shards()], read_tar_without_index, ".tar"
    ),
    Target(
        "index-json",
        lambda: [(INDEX_NAME, (dataset() / INDEX_NAME).read_bytes())],
        functools.partial(read_dataset_with_index, columns=False),
        ".json",
    ),
    Target(
        "index-samples",
        lambda: [(SAMPLES, (dataset() / SAMPLES).read_bytes())],
        functools.partial(read_dataset_with_index, columns=True),
        ".samples",
    ),
    Target("events-record", lambda: [("record", _first_record())], read_record, ".msgpack"),
]
