"""``shardgen convert --engine ray``: parts converted as Ray tasks on a local cluster started here,
merged into one index holding exactly the samples of a one-process conversion, into a local folder
and into object storage (moto's S3 server on 127.0.0.1)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

# Ray on Linux advertises the machine's network address even for a cluster on 127.0.0.1; this keeps
# every connection of the tests (and of the driver they start) on the loopback interface.
LOOPBACK_ONLY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
os.environ.update(LOOPBACK_ONLY)
ray = pytest.importorskip("ray", reason='the ray engine needs Ray: pip install "neuroshards[ray]" (in the test extra)')

import shardgen  # noqa: E402
from neuroshards.index import load_index  # noqa: E402
from neuroshards.sources import ShardStore  # noqa: E402
from neuroshards.sources.objects import object_filesystem  # noqa: E402
from neuroshards.sources.remote import RemoteOptions  # noqa: E402
from shardgen.cli import main  # noqa: E402
from shardgen.synthetic import write_synthetic_nmnist  # noqa: E402
from streams import EventStream  # noqa: E402

from local_s3 import local_s3_server  # noqa: E402

OPTIONS = {"verify": False, "progress": False, "max_samples": 7}
BUCKET = "neuroshards-ray"


@pytest.fixture(scope="module")
def s3():
    """The AWS variables of moto's S3 server on 127.0.0.1, with a bucket (None where the test
    extra's moto or s3fs is missing: only the S3 test is skipped then)."""
    try:
        import moto.server  # noqa: F401
        import s3fs  # noqa: F401
    except ImportError:
        yield None
        return
    with local_s3_server(BUCKET) as (_, variables):
        yield variables


@pytest.fixture(scope="module")
def cluster(s3):
    """A two-CPU local Ray cluster, as a head node on 127.0.0.1; yields its address. Its tasks get
    the S3 server's variables, as a cluster's nodes get their cloud's credentials."""
    runtime_env = {"env_vars": s3} if s3 else None
    context = ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1", runtime_env=runtime_env
    )
    try:
        yield context.address_info["address"]
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ray")
    raw = write_synthetic_nmnist(root / "raw", train_per_class=2, test_per_class=1, events_per_sample=300)
    shardgen.convert("nmnist", raw, root / "full", **OPTIONS)
    return root


def _content(path: Path | str, split: str) -> dict[str, tuple[int, bytes]]:
    return {
        sample["__key__"]: (sample["label"], b"".join(np.ascontiguousarray(sample["events"][f]).tobytes() for f in "txyp"))
        for sample in EventStream(path, split=split)
    }


def _assert_same_samples(out: Path, full: Path) -> None:
    merged, reference = load_index(out), load_index(full)
    assert {split: (entry["n_samples"], entry["n_events"]) for split, entry in merged.splits.items()} == {
        split: (entry["n_samples"], entry["n_events"]) for split, entry in reference.splits.items()
    }
    assert merged.generator == reference.generator  # no trace of the parts
    for split in ("train", "test"):
        assert _content(out, split) == _content(full, split)


def test_ray_parts_hold_what_one_process_holds(cluster, converted):
    out = converted / "ray"
    summary = shardgen.convert("nmnist", converted / "raw", out, engine="ray", parts=3, **OPTIONS)
    _assert_same_samples(out, converted / "full")
    assert sorted(path.name for path in out.glob("index.part*.json")) == [f"index.part{p:04d}of0003.json" for p in range(3)]
    shards = {shard.path for shard in load_index(out).shards}
    assert shards == {path.name for path in out.glob("*.tar")} and all("of0003-" in name for name in shards)
    assert (summary.n_samples, summary.n_shards) == (len(load_index(out).samples), len(shards))


def test_ray_parts_written_to_object_storage_hold_what_one_process_holds(cluster, converted, s3):
    """``out`` as an s3:// URL goes unchanged to every part and to the merge, which run on the cluster."""
    if s3 is None:
        pytest.skip("the S3 test needs moto[server] and s3fs (in the test extra)")
    out = f"s3://{BUCKET}/ray"
    shardgen.convert("nmnist", converted / "raw", out, engine="ray", parts=2, **OPTIONS)
    listed = object_filesystem("s3", RemoteOptions.from_environment()).ls(f"{BUCKET}/ray", detail=False)
    shards = {name.rsplit("/", 1)[-1] for name in listed if name.endswith(".tar")}
    assert {shard.path for shard in ShardStore(out).load_index().shards} == shards and len(shards) >= 4
    for split in ("train", "test"):
        assert _content(out, split) == _content(converted / "full", split)


def test_cli_on_a_cluster_by_address_reruns_with_other_parts(cluster, converted):
    """A separate driver process reaches the cluster by its address; rerunning into the same folder
    with another number of parts replaces the earlier parts' shards and partial indexes."""
    out = converted / "ray"
    if not (out / "index.json").exists():
        shardgen.convert("nmnist", converted / "raw", out, engine="ray", parts=3, **OPTIONS)
    command = [
        sys.executable,
        "-m",
        "shardgen.cli",
        "convert",
        "nmnist",
        "--raw",
        str(converted / "raw"),
        "--out",
        str(out),
        "--no-verify",
        "--quiet",
        "--max-samples",
        "7",
        "--engine",
        "ray",
        "--ray-address",
        cluster,
        "--parts",
        "2",
    ]
    environment = {**os.environ, **LOOPBACK_ONLY, "RAY_ADDRESS": ""}
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment)
    assert result.returncode == 0, result.stderr
    assert "nmnist:" in result.stdout and "split train" in result.stdout
    _assert_same_samples(out, converted / "full")
    names = {path.name for path in out.iterdir() if not path.name.startswith(".")}
    assert not any("of0003" in name for name in names)
    assert {name for name in names if name.startswith("index.part")} == {
        f"index.part{p:04d}of0002.{suffix}" for p in range(2) for suffix in ("json", "samples")
    }


def test_a_task_error_comes_back_as_the_error_not_a_remote_traceback(cluster, tmp_path, capsys):
    missing = tmp_path / "no-such-download"
    code = main(["convert", "nmnist", "--raw", str(missing), "--out", str(tmp_path / "out"), "--quiet", "--engine", "ray"])
    error = capsys.readouterr().err
    assert code == 1 and str(missing) in error and "Traceback" not in error


def test_an_address_where_no_cluster_listens_is_refused_at_once(tmp_path, capsys):
    with socket.socket() as unused:  # a loopback port that nothing listens on
        unused.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{unused.getsockname()[1]}"
    code = main(
        [
            "convert",
            "nmnist",
            "--raw",
            str(tmp_path),
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            "--engine",
            "ray",
            "--ray-address",
            address,
        ]
    )
    assert code == 1 and f"cannot reach the Ray cluster at {address}" in capsys.readouterr().err


def test_engine_arguments_are_checked(tmp_path):
    with pytest.raises(ValueError, match="unknown engine"):
        shardgen.convert("nmnist", tmp_path, tmp_path, engine="dask")
    with pytest.raises(ValueError, match="runs every part itself"):
        shardgen.convert("nmnist", tmp_path, tmp_path, engine="ray", part=(0, 2))
    with pytest.raises(ValueError, match="for engine='ray'"):
        shardgen.convert("nmnist", tmp_path, tmp_path, parts=2)
