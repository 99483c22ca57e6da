"""``shardgen convert --part I/N`` + ``shardgen merge``: the merged parts hold exactly what one
conversion of everything holds, and parts that do not belong together are refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from neuroshards.index import load_index, save_index
from shardgen.cli import main
from shardgen.synthetic import write_synthetic_nmnist
from streams import EventStream

PARTS = 3


def convert(raw: Path, out: Path, *extra: str) -> None:
    assert (
        main(["convert", "nmnist", "--raw", str(raw), "--out", str(out), "--no-verify", "--quiet", "--max-samples", "7", *extra])
        == 0
    )


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("merge")
    raw = write_synthetic_nmnist(root / "raw", train_per_class=3, test_per_class=1, events_per_sample=300)
    convert(raw, root / "full")
    for part in range(PARTS):
        convert(raw, root / "shared", "--part", f"{part}/{PARTS}")  # all parts in one folder
        convert(raw, root / f"separate{part}", "--part", f"{part}/{PARTS}")  # or one folder each
    return root


def _content(path: Path, split: str) -> dict[str, tuple[int, bytes]]:
    return {
        sample["__key__"]: (sample["label"], b"".join(np.ascontiguousarray(sample["events"][f]).tobytes() for f in "txyp"))
        for sample in EventStream(path, split=split)
    }


@pytest.mark.parametrize("layout", ["shared", "separate"])
def test_merged_parts_hold_what_one_conversion_holds(converted, layout):
    if layout == "shared":
        main(["merge", str(converted / "shared")])
        merged = converted / "shared"
    else:
        assert main(["merge", *(str(converted / f"separate{p}") for p in range(PARTS)), "--out", str(converted / "merged")]) == 0
        merged = converted / "merged"
    full, index = load_index(converted / "full"), load_index(merged)
    for split, entry in full.splits.items():  # the same samples and events (in more, smaller shards)
        assert (index.splits[split]["n_samples"], index.splits[split]["n_events"]) == (entry["n_samples"], entry["n_events"])
    assert "part" not in index.generator["options"] and index.generator == full.generator
    for split in ("train", "test"):
        assert _content(merged, split) == _content(converted / "full", split)


def test_parts_split_the_recordings_deterministically_without_name_clashes(converted):
    indexes = [load_index(converted / "shared" / f"index.part{p:04d}of{PARTS:04d}.json") for p in range(PARTS)]
    keys = [set(index.samples.keys()) for index in indexes]
    assert (
        sum(map(len, keys))
        == len(set().union(*keys))
        == sum(s["n_samples"] for s in load_index(converted / "full").splits.values())
    )
    sizes = [len(k) for k in keys]
    assert max(sizes) - min(sizes) <= 1 * 2  # every third recording of each of the two splits
    names = [shard.path for index in indexes for shard in index.shards]
    assert len(names) == len(set(names))
    separate = [
        shard.path
        for p in range(PARTS)
        for shard in load_index(converted / f"separate{p}" / f"index.part{p:04d}of{PARTS:04d}.json").shards
    ]
    assert separate == names  # the same parts whatever the folder


def test_rerunning_a_part_keeps_the_other_parts_shards(converted):
    """Also a shard that another part is writing at that moment (its temporary file), while a
    crashed run's temporary shard of this part is cleared."""
    shared = converted / "shared"
    before = sorted(path.name for path in shared.glob("*.tar"))
    in_progress = shared / f".train-part0002of{PARTS:04d}-000000.tar.tmp"
    crashed = shared / f".train-part0001of{PARTS:04d}-000099.tar.tmp"
    in_progress.write_bytes(b"half a shard"), crashed.write_bytes(b"half a shard")
    convert(converted / "raw", shared, "--part", f"1/{PARTS}")
    assert sorted(path.name for path in shared.glob("*.tar")) == before
    assert in_progress.exists() and not crashed.exists()
    in_progress.unlink()


def _copy_parts(converted: Path, target: Path) -> Path:
    target.mkdir()
    for path in (converted / "shared").iterdir():
        if path.name != "index.json":
            (target / path.name).write_bytes(path.read_bytes())
    return target


def test_merge_refuses_missing_parts(converted, tmp_path, capsys):
    folder = _copy_parts(converted, tmp_path / "incomplete")
    (folder / f"index.part0002of{PARTS:04d}.json").unlink()
    assert main(["merge", str(folder)]) == 1
    assert "parts [2] of 3 are missing" in capsys.readouterr().err


def test_merge_refuses_parts_of_different_options(converted, tmp_path, capsys):
    folder = _copy_parts(converted, tmp_path / "mixed")
    convert(converted / "raw", tmp_path / "other", "--part", f"1/{PARTS}", "--compression", "zstd")
    (folder / f"index.part0001of{PARTS:04d}.json").write_bytes(
        (tmp_path / "other" / f"index.part0001of{PARTS:04d}.json").read_bytes()
    )
    assert main(["merge", str(folder)]) == 1
    assert "differs from" in capsys.readouterr().err


def test_merge_refuses_a_key_in_two_parts(converted, tmp_path, capsys):
    folder = _copy_parts(converted, tmp_path / "duplicate")
    first = load_index(folder / f"index.part0000of{PARTS:04d}.json")
    second = load_index(folder / f"index.part0001of{PARTS:04d}.json")
    key = second.samples.key.copy()
    key[0] = first.samples.key[0]
    second.samples = replace(second.samples, key=key)
    save_index(second, folder, f"index.part0001of{PARTS:04d}.json")
    assert main(["merge", str(folder)]) == 1
    assert f"sample key {first.samples.key_of(0)!r} is also in" in capsys.readouterr().err


def test_part_argument_is_checked(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["convert", "nmnist", "--raw", str(tmp_path), "--out", str(tmp_path), "--part", "3/3"])
    assert "not a part: '3/3'" in capsys.readouterr().err
