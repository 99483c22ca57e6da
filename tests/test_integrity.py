"""Nothing wrong reaches training: every sample is checked against the index before decoding, and
an index that does not fit its shards (or is of an older version) is refused with the fix named."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuroshards import IndexFileError, IntegrityError, NeuroshardsError
from neuroshards.index import load_index
from shardgen.cli import main
from shardgen.synthetic.shards import write_uneven_shards
from streams import EventStream


@pytest.fixture()
def shards(tmp_path):
    write_uneven_shards(tmp_path / "ds", [6, 5, 7])
    return tmp_path / "ds"


def _flip(path, position: int) -> None:
    data = bytearray(path.read_bytes())
    data[position] ^= 0x01
    path.write_bytes(bytes(data))


def test_every_flipped_byte_of_every_sample_is_caught(shards):
    index = load_index(shards)
    rng = np.random.default_rng(0)
    for row in rng.choice(len(index.samples), 12, replace=False).tolist():
        shard = shards / index.shards[index.samples.shard[row]].path
        original = shard.read_bytes()
        position = int(index.samples.offset[row] + rng.integers(0, index.samples.size[row]))
        _flip(shard, position)
        with pytest.raises(IntegrityError) as caught:
            list(EventStream(shards))
        shard.write_bytes(original)
        message = str(caught.value)
        assert shard.name in message and index.samples.key_of(row) in message
        assert f"at byte {index.samples.offset[row]}" in message


def test_an_index_of_version_1_names_the_rebuild_command(shards):
    path = shards / "index.json"
    header = json.loads(path.read_text())
    header["version"] = 1
    path.write_text(json.dumps(header))
    with pytest.raises(IndexFileError, match=r"shardgen reindex"):
        EventStream(shards)


@pytest.mark.parametrize("damage", ["missing field", "samples file cut", "samples file changed", "not json"])
def test_a_damaged_index_is_one_clear_error(shards, damage):
    path, columns = shards / "index.json", shards / "index.samples"
    header = json.loads(path.read_text())
    if damage == "missing field":
        del header["classes"]
        path.write_text(json.dumps(header))
    elif damage == "samples file cut":
        columns.write_bytes(columns.read_bytes()[:-8])
    elif damage == "samples file changed":
        _flip(columns, 3)
    else:
        path.write_text("{")
    with pytest.raises(IndexFileError) as caught:
        EventStream(shards)
    assert isinstance(caught.value, NeuroshardsError) and str(shards) in str(caught.value)


def _as_version_1(directory) -> None:
    """Rewrite ``directory``'s index as the version-1 layout (sample table inside index.json)."""
    index = load_index(directory)
    header = index.header()
    header["version"] = 1
    starts = index.shard_starts
    for number, shard in enumerate(header["shards"]):
        rows = slice(starts[number], starts[number + 1])
        shard["samples"] = {
            "keys": index.samples.keys(rows),
            "labels": index.samples.label[rows].tolist(),
            "n_events": index.samples.n_events[rows].tolist(),
            "offsets": index.samples.offset[rows].tolist(),
            "sizes": index.samples.size[rows].tolist(),
        }
    (directory / "index.json").write_text(json.dumps(header))
    (directory / "index.samples").unlink()


@pytest.mark.parametrize("old_index", ["version 1", "lost"])
def test_reindex_rebuilds_the_index_from_the_shards(shards, old_index):
    before = load_index(shards)
    if old_index == "version 1":
        _as_version_1(shards)
    else:
        (shards / "index.json").unlink()
        (shards / "index.samples").unlink()
    assert main(["reindex", str(shards)]) == 0
    after = load_index(shards)
    for column in ("key", "label", "n_events", "shard", "offset", "size", "checksum"):
        assert np.array_equal(getattr(after.samples, column), getattr(before.samples, column)), column
    assert [vars(shard) for shard in after.shards] == [vars(shard) for shard in before.shards]
    assert after.classes == before.classes and after.sensor_size == before.sensor_size
    assert len(list(EventStream(shards))) == len(before.samples)
