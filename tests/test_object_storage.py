"""Object storage end to end against a real S3-compatible server: moto's, started by this module on
127.0.0.1 (no other network). Credentials and the endpoint reach s3fs only through the standard
AWS environment variables, as they would on a cluster. Converting to ``s3://`` gives the very files
a local conversion gives; streaming, resuming and random access from it give what the local folder
gives; parts convert and merge to URLs; ``shardgen verify`` finds damaged and missing objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("s3fs")
pytest.importorskip("moto.server")

from neuroshards.index import load_index  # noqa: E402
from neuroshards.sources import ShardStore  # noqa: E402
from shardgen.cli import main  # noqa: E402
from shardgen.synthetic import write_synthetic_nmnist  # noqa: E402
from streams import EventStream  # noqa: E402

from local_s3 import local_s3_server  # noqa: E402

BUCKET = "neuroshards-test"
PARTS = 3


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """The server's filesystem; the AWS variables point every client of this process at it."""
    with local_s3_server(BUCKET) as (fs, _):
        yield fs


def convert(raw: Path, out: str | Path, *extra: str) -> None:
    assert (
        main(["convert", "nmnist", "--raw", str(raw), "--out", str(out), "--no-verify", "--quiet", "--max-samples", "7", *extra])
        == 0
    )


@pytest.fixture(scope="module")
def converted(s3, tmp_path_factory):
    """The same raw data converted to a local folder and to the bucket (whole, and in parts)."""
    root = tmp_path_factory.mktemp("objects")
    raw = write_synthetic_nmnist(root / "raw", train_per_class=3, test_per_class=1, events_per_sample=300)
    convert(raw, root / "local")
    convert(raw, f"s3://{BUCKET}/full", "--workers", "2")  # uploads while worker processes encode
    for part in range(PARTS):
        convert(raw, f"s3://{BUCKET}/parts", "--part", f"{part}/{PARTS}")
        convert(raw, f"s3://{BUCKET}/separate{part}/", "--part", f"{part}/{PARTS}")
    return raw, root / "local"


def _samples(location, split: str = "train", **options) -> list[tuple[str, int, bytes]]:
    return [
        (s["__key__"], s["label"], b"".join(np.ascontiguousarray(s["events"][f]).tobytes() for f in "txyp"))
        for s in EventStream(location, split=split, **options)
    ]


def test_converting_to_s3_uploads_the_files_a_local_conversion_writes(s3, converted, tmp_path, monkeypatch):
    _, local = converted
    remote = sorted(path.rsplit("/", 1)[1] for path in s3.ls(f"{BUCKET}/full", detail=False))
    assert remote == sorted(path.name for path in local.iterdir())
    for name in remote:
        assert s3.cat_file(f"{BUCKET}/full/{name}") == (local / name).read_bytes(), name


def test_info_reads_the_index_in_s3(converted, capsys):
    _, local = converted
    assert main(["info", str(local)]) == 0
    expected = capsys.readouterr().out
    assert main(["info", f"s3://{BUCKET}/full"]) == 0
    assert capsys.readouterr().out == expected


def test_a_url_is_never_taken_for_a_local_folder(converted, tmp_path, monkeypatch, capsys):
    raw, _ = converted
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["convert", "nmnist", "--raw", str(raw), "--out", "s4://bucket/x", "--no-verify", "--quiet"])
    assert "unknown scheme 's4://'" in capsys.readouterr().err
    with pytest.raises(ValueError, match="unknown scheme 's4://'"):
        EventStream("s4://bucket/x", split="train")
    assert list(tmp_path.iterdir()) == []  # no folder named 's3:' or 's4:'


@pytest.mark.parametrize("shuffle", [False, "shard", "sample"])
def test_streaming_from_s3_gives_the_local_samples(converted, shuffle):
    _, local = converted
    options = dict(shuffle=shuffle, seed=3, shuffle_buffer=4)
    for split in ("train", "test"):
        assert _samples(f"s3://{BUCKET}/full", split, **options) == _samples(local, split, **options)
    assert _samples(f"s3://{BUCKET}/full/index.json", rank=1, world_size=2) == _samples(local, rank=1, world_size=2)


def test_the_cache_keeps_whole_checked_shards_from_s3(converted, tmp_path):
    _, local = converted
    cache = tmp_path / "cache"
    for _ in range(2):  # downloads, then reads the cached copies
        assert _samples(f"s3://{BUCKET}/full", cache_dir=cache, shuffle="sample", seed=7) == _samples(
            local, shuffle="sample", seed=7
        )
    index = load_index(local)
    cached = {path.name.split("-", 1)[1]: path.read_bytes() for path in cache.iterdir()}
    assert cached == {shard.path: (local / shard.path).read_bytes() for shard in index.shards if shard.split == "train"}


def test_dataloader_workers_stream_from_s3(converted):
    _, local = converted
    stream = EventStream(f"s3://{BUCKET}/full", split="train", shuffle=True, seed=1)
    keys = sorted(sample["__key__"] for sample in stream.loader(num_workers=2, multiprocessing_context="fork"))
    assert keys == sorted(key for key, _, _ in _samples(local))


def test_resuming_from_s3_continues_where_the_local_run_would(converted):
    _, local = converted
    full = [batch["label"].tolist() for batch in EventStream(local, split="train", shuffle=True, seed=5).frames(2).batch(4)]
    stream = EventStream(f"s3://{BUCKET}/full", split="train", shuffle=True, seed=5)
    batches = iter(stream.frames(2).batch(4))
    head = [next(batches)["label"].tolist() for _ in range(2)]
    restarted = EventStream(f"s3://{BUCKET}/full", split="train", shuffle=True, seed=5)
    restarted.load_state_dict(stream.state_dict())
    assert head + [batch["label"].tolist() for batch in restarted.frames(2).batch(4)] == full


def test_random_access_from_s3_reads_the_local_bytes(converted):
    _, local = converted
    remote_store, local_store = ShardStore(f"s3://{BUCKET}/full"), ShardStore(local)
    index = remote_store.load_index()
    assert index.header() == local_store.load_index().header()
    samples = index.samples
    for row in (0, len(samples) // 2, len(samples) - 1):
        name = index.shards[samples.shard[row]].path
        start, end = int(samples.offset[row]), int(samples.offset[row] + samples.size[row])
        assert remote_store.read_range(name, start, end) == local_store.read_range(name, start, end)


@pytest.mark.parametrize("layout", ["shared", "separate"])
def test_parts_converted_and_merged_in_s3_hold_what_one_conversion_holds(converted, layout):
    _, local = converted
    if layout == "shared":
        assert main(["merge", f"s3://{BUCKET}/parts"]) == 0
        merged = f"s3://{BUCKET}/parts"
    else:
        folders = [f"s3://{BUCKET}/separate{part}" for part in range(PARTS)]
        assert main(["merge", *folders, "--out", f"s3://{BUCKET}/merged"]) == 0
        merged = f"s3://{BUCKET}/merged"
    for split in ("train", "test"):
        assert sorted(_samples(merged, split)) == sorted(_samples(local, split))
    assert main(["verify", merged, "--quiet"]) == 0


def test_a_rerun_replaces_a_crashed_run(s3, converted, tmp_path):
    raw, local = converted
    target = f"{BUCKET}/rerun"
    # What a run killed during its uploads leaves: some shards, one of them cut short, and no index.
    s3.pipe_file(f"{target}/train-000000.tar", b"half a shard")
    s3.pipe_file(f"{target}/train-000042.tar", b"a shard of an earlier run")
    with pytest.raises(Exception, match="no index"):
        EventStream(f"s3://{target}", split="train")
    convert(raw, f"s3://{target}")
    names = sorted(path.rsplit("/", 1)[1] for path in s3.ls(target, detail=False, refresh=True))
    assert names == sorted(path.name for path in local.iterdir())
    assert _samples(f"s3://{target}") == _samples(local)


def test_a_failed_conversion_publishes_no_index(s3, converted, tmp_path):
    raw, _ = converted
    broken = tmp_path / "raw"
    broken.mkdir()
    for path in raw.rglob("*"):
        if path.is_file():
            copy = broken / path.relative_to(raw)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(path.read_bytes())
    victim = sorted(path for path in broken.rglob("*.bin"))[-1]
    victim.write_bytes(victim.read_bytes()[:-2])  # a truncated recording: the conversion stops there
    assert (
        main(
            [
                "convert",
                "nmnist",
                "--raw",
                str(broken),
                "--out",
                f"s3://{BUCKET}/failed",
                "--no-verify",
                "--quiet",
                "--max-samples",
                "3",
            ]
        )
        == 1
    )
    left = (
        [path.rsplit("/", 1)[1] for path in s3.ls(f"{BUCKET}/failed", detail=False, refresh=True)]
        if s3.exists(f"{BUCKET}/failed")
        else []
    )
    assert not [name for name in left if name.startswith("index")]


def test_verify_in_s3_reports_damaged_and_missing_shards(s3, converted, capsys):
    _, local = converted
    assert main(["verify", f"s3://{BUCKET}/full"]) == 0
    index = load_index(local)
    damaged, missing = index.shards[0], index.shards[1]
    target = f"{BUCKET}/damaged"
    for path in local.iterdir():
        data = path.read_bytes()
        if path.name == damaged.path:
            flipped = bytearray(data)
            flipped[1000] ^= 1
            data = bytes(flipped)
        if path.name != missing.path:
            s3.pipe_file(f"{target}/{path.name}", data)
    capsys.readouterr()
    assert main(["verify", f"s3://{target}", "--quiet"]) == 1
    bad = [line for line in capsys.readouterr().out.splitlines() if line.startswith("BAD")]
    assert len(bad) == 2
    assert (
        bad[0].startswith(f"BAD {damaged.path}: sha256 ") and f"1 of {damaged.n_samples} samples fail their checksum: " in bad[0]
    )
    assert bad[1].startswith(f"BAD {missing.path}: missing: s3://{target}/{missing.path}: not found")


def test_an_unreachable_endpoint_is_one_error_naming_the_url_and_the_attempts(s3, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name, value in {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "NEUROSHARDS_RETRIES": "1",
        "NEUROSHARDS_RETRY_BACKOFF": "0.01",
        "NEUROSHARDS_CONNECT_TIMEOUT": "0.2",
    }.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(
        Exception,
        match=rf"s3://{BUCKET}/full/index\.json: reading from byte 0 failed after 2 attempts .*"
        rf"last error: EndpointConnectionError: .*127\.0\.0\.1:{port}",
    ):
        ShardStore(f"s3://{BUCKET}/full").load_index()
