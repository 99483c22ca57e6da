"""Nothing wrong reaches training: every sample is checked against the index before decoding, and
an index that does not fit its shards (or is of an older version) is refused with the fix named."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neuroshards import IndexFileError, IntegrityError, NeuroshardsError
from neuroshards.index import load_index
from streams import EventStream
from streaming_helpers import write_uneven_shards


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
