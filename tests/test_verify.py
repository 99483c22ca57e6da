"""``shardgen verify DIR``: every bad shard is reported on one line naming what is wrong (missing,
size, sha256, the sample key and byte offset), exit 1; a sound dataset passes with exit 0."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from neuroshards.index import load_index
from shardgen.cli import main
from shardgen.synthetic.shards import write_uneven_shards

SIZES = [4, 3, 5, 2]


@pytest.fixture(scope="module")
def sound(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("verify") / "sound"
    write_uneven_shards(out, SIZES)
    return out


@pytest.fixture
def copy(sound, tmp_path) -> Path:
    return Path(shutil.copytree(sound, tmp_path / "copy"))


def _verify(location, capsys) -> tuple[int, list[str], str]:
    capsys.readouterr()
    code = main(["verify", str(location)])
    captured = capsys.readouterr()
    return code, [line for line in captured.out.splitlines() if line.startswith("BAD")], captured.err


def test_a_sound_dataset_passes(sound, capsys):
    code, bad, _ = _verify(sound, capsys)
    assert code == 0 and bad == []
    assert main(["verify", str(sound / "index.json"), "--quiet"]) == 0


def test_every_bad_shard_is_named_with_what_is_wrong(copy, capsys):
    index = load_index(copy)
    shards, samples, starts = index.shards, index.samples, index.shard_starts
    # shard 0: one flipped byte in its third sample; shard 1: cut short inside its second sample;
    # shard 2: missing; shard 3: sound.
    third = int(starts[0] + 2)
    data = bytearray((copy / shards[0].path).read_bytes())
    data[int(samples.offset[third]) + 600] ^= 0x01
    (copy / shards[0].path).write_bytes(bytes(data))
    second = int(starts[1] + 1)
    cut = int(samples.offset[second]) + 700
    (copy / shards[1].path).write_bytes((copy / shards[1].path).read_bytes()[:cut])
    (copy / shards[2].path).unlink()
    code, bad, err = _verify(copy, capsys)
    assert code == 1 and len(bad) == 3
    assert bad[0].startswith(f"BAD {shards[0].path}: sha256 ")
    assert bad[0].endswith(
        f"1 of {SIZES[0]} samples fail their checksum: {samples.key_of(third)!r} at byte {samples.offset[third]}"
    )
    assert bad[1].startswith(f"BAD {shards[1].path}: size {cut} bytes, the index records {shards[1].bytes}; sha256 ")
    assert bad[1].endswith(
        f"{SIZES[1] - 1} of {SIZES[1]} samples fail their checksum: {samples.key_of(second)!r} at byte {samples.offset[second]}, "
        f"{samples.key_of(second + 1)!r} at byte {samples.offset[second + 1]}"
    )
    assert bad[2].startswith(f"BAD {shards[2].path}: missing: ") and "no such file" in bad[2]
    assert "3 of 4 shards bad" in err


def test_an_unusable_index_fails_the_check(copy, capsys):
    (copy / "index.samples").write_bytes(b"\0" * 10)
    code, bad, err = _verify(copy, capsys)
    assert code == 1 and bad == [] and "the index cannot be used" in err and "index.samples" in err
    code, _, err = _verify(copy / "absent", capsys)
    assert code == 1 and "no index" in err
