"""Conversion under bad input and hostile or failing output (issue 11), one test per fault:
one-line errors naming file, format, offset and sample; ``--on-error skip``; split names that
would leave ``--out``; temporary files never opened through a planted symlink; a limit on archive
members; spool folders removed on error and by the next run; a disk that fills."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import shardgen
from neuroshards.index import load_index
from shardgen import ConversionError
from shardgen.cli import main
from shardgen.conversion.parallel import SPOOL_LOCK
from shardgen.synthetic import event_files as writers

ROOT = Path(__file__).resolve().parents[1]


def recording(seed: int, n: int = 200) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "t": np.sort(rng.integers(0, 50_000, n)).astype(np.int64),
        "x": rng.integers(0, 64, n).astype(np.uint16),
        "y": rng.integers(0, 48, n).astype(np.uint16),
        "p": rng.integers(0, 2, n).astype(np.uint8),
    }


def folder_tree(root: Path, *, bad: bool = True) -> Path:
    """ROOT/<class>/<EVT 2.0 recordings>; with ``bad``, ``clap/c1.raw`` holds an undefined word."""
    for label, names in (("clap", ["c0", "c1", "c2"]), ("wave", ["w0", "w1"])):
        (root / label).mkdir(parents=True, exist_ok=True)
        for _number, name in enumerate(names):
            data = bytearray(writers.write_evt2(recording(hash(name) % 1000), width=64, height=48))
            if bad and name == "c1":
                data[-40:-36] = (0x5 << 28).to_bytes(4, "little")  # type 0x5 is undefined in EVT 2.0
            (root / label / f"{name}.raw").write_bytes(bytes(data))
    return root


def convert_args(root: Path, out: Path, *extra: str) -> list[str]:
    return ["convert", "folder", "--raw", str(root), "--out", str(out), "--quiet", *extra]


def run_cli(args: list[str], *, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shardgen.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=preexec,
    )


def test_a_bad_recording_is_one_line_naming_file_format_offset_and_sample(tmp_path):
    root = folder_tree(tmp_path / "root")
    done = run_cli(convert_args(root, tmp_path / "out"))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    size = (root / "clap" / "c1.raw").stat().st_size
    assert lines[0] == (
        f"shardgen: error: {root / 'clap' / 'c1.raw'} at byte {size - 40}: EVT 2.0 word 0x50000000 has an "
        "undefined type: corrupt data (format evt2, sample clap_c1)"
    )
    assert not (tmp_path / "out" / "index.json").exists()
    assert not list((tmp_path / "out").glob(".spool-*")) and not list((tmp_path / "out").glob(".*.tmp"))


@pytest.mark.parametrize("workers", [1, 2])
def test_on_error_skip_converts_the_rest_and_lists_the_skipped(tmp_path, capsys, workers):
    root = folder_tree(tmp_path / "root")
    out = tmp_path / f"out{workers}"
    assert main(convert_args(root, out, "--on-error", "skip", "--workers", str(workers))) == 0
    printed = capsys.readouterr().out
    assert "4 samples" in printed and "skipped 1" in printed and "c1.raw at byte" in printed
    index = load_index(out)
    assert sorted(index.samples.keys()) == ["clap_c0", "clap_c2", "wave_w0", "wave_w1"]
    [skipped] = index.generator["options"]["skipped"]
    assert skipped["source"] == str(root / "clap" / "c1.raw") and skipped["sample"] == "clap_c1"
    assert "format evt2" in skipped["error"]
    one = tmp_path / "out1"
    if workers == 2 and one.exists():  # the same bytes whatever the number of workers
        assert [p.read_bytes() for p in sorted(one.glob("*.tar"))] == [p.read_bytes() for p in sorted(out.glob("*.tar"))]


def test_on_error_skip_from_python_and_the_default_raises(tmp_path):
    root = folder_tree(tmp_path / "root")
    with pytest.raises(ConversionError) as caught:
        shardgen.convert("folder", root, tmp_path / "a", progress=False)
    assert (caught.value.format, caught.value.sample) == ("evt2", "clap_c1") and caught.value.offset is not None
    summary = shardgen.convert("folder", root, tmp_path / "b", progress=False, on_error="skip")
    assert summary.n_samples == 4 and [entry["sample"] for entry in summary.skipped] == ["clap_c1"]
    clean = shardgen.convert("folder", folder_tree(tmp_path / "good", bad=False), tmp_path / "c", progress=False)
    assert "skipped" not in load_index(tmp_path / "c").generator["options"] and not clean.skipped


def test_manifest_split_cannot_leave_the_output_folder(tmp_path, capsys):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.raw").write_bytes(writers.write_evt2(recording(1), width=64, height=48))
    (tmp_path / "m.csv").write_text("path,label,split\ndata/a.raw,x,train\ndata/a.raw,y,../../escaped\n")
    out = tmp_path / "deep" / "er" / "out"
    assert main(["convert", "manifest", "--manifest", str(tmp_path / "m.csv"), "--out", str(out), "--quiet"]) == 1
    error = capsys.readouterr().err
    assert "m.csv: line 3: split '../../escaped' is not a plain name" in error and "Traceback" not in error
    assert not list(tmp_path.rglob("*escaped*")) and not list(tmp_path.rglob("*.tar"))


def test_adapter_split_and_key_are_checked_by_the_writer(tmp_path):
    """Any adapter's split or key that is not a plain name is refused before a file is named by it."""
    from shardgen.conversion.writer import WriterOptions, write_shards
    from shardgen.datasets.base import FileTask, Plan
    from shardgen.formats.rawtree import RawFile

    (tmp_path / "a.bin").write_bytes(b"")
    file = RawFile("a.bin", str(tmp_path / "a.bin"))
    for key, split, problem in (("ok", "../up", "split '../up'"), ("../k", "train", "sample key '../k'")):
        plan = Plan(["c"], [FileTask(file, key, 0, split, _no_events)])
        with pytest.raises(ConversionError, match=problem):
            write_shards(plan, tmp_path / "out", dataset="d", sensor_size=(4, 4, 2), options=WriterOptions(progress=False))
    assert not list(tmp_path.rglob("*.tar")) and not (tmp_path / "up").exists()


def _no_events(_file):
    return {name: np.zeros(0, dtype) for name, dtype in (("t", np.int64), ("x", np.uint16), ("y", np.uint16), ("p", np.uint8))}


def test_temporary_shards_are_never_opened_through_a_planted_symlink(tmp_path):
    root = folder_tree(tmp_path / "root", bad=False)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for name in ("all-000000.tar", ".all-000000.tar.tmp"):  # the final name and the former fixed temporary name
        (out / name).symlink_to(victim)
    assert main(convert_args(root, out)) == 0
    assert victim.read_text() == "precious"
    shard = out / "all-000000.tar"
    assert shard.is_file() and not shard.is_symlink()
    assert not (out / ".all-000000.tar.tmp").exists()  # a leftover temporary name is cleared
    assert load_index(out).splits["all"]["n_samples"] == 5


def test_archive_members_over_the_limit_are_refused_before_decompressing(tmp_path, monkeypatch, capsys):
    root = tmp_path / "root"
    root.mkdir()
    with zipfile.ZipFile(root / "recordings.zip", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in ("clap/a.raw", "wave/b.raw"):
            archive.writestr(name, writers.write_evt2(recording(2, 5000), width=64, height=48) + bytes(200_000))
    args = convert_args(root, tmp_path / "out", "--format", "evt2", "--sensor-size", "64", "48")
    assert main([*args, "--max-member-bytes", "100k"]) == 1
    error = capsys.readouterr().err
    assert "recordings.zip:clap/a.raw: archive member expands to" in error and "over the limit of 102400" in error
    monkeypatch.delenv("NEUROSHARDS_MAX_MEMBER_BYTES")  # the option set it for the workers; the default allows 8 GiB
    assert main(args) == 0  # the zero padding reads as events at (0, 0)
    assert "2 samples" in capsys.readouterr().out


def test_a_killed_runs_spool_folder_is_removed_by_the_next_run_and_a_live_ones_kept(tmp_path):
    root = folder_tree(tmp_path / "root", bad=False)
    out = tmp_path / "out"
    stale = out / ".spool-killed"
    stale.mkdir(parents=True)
    (stale / SPOOL_LOCK).write_bytes(b"")
    (stale / "000000001").write_bytes(bytes(1 << 20))
    live = out / ".spool-live"
    live.mkdir()
    with open(live / SPOOL_LOCK, "wb") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # another part converting into the same folder
        assert main(convert_args(root, out, "--workers", "2")) == 0
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in out.iterdir()) == [".spool-live", "all-000000.tar", "index.json", "index.samples"]


def test_a_killed_run_leaves_a_spool_that_the_rerun_removes(tmp_path):
    """The real thing: a conversion with workers is killed (SIGKILL) while it runs."""
    root = folder_tree(tmp_path / "root", bad=False)
    for number in range(40):
        (root / "wave" / f"x{number}.raw").write_bytes(writers.write_evt2(recording(number, 20_000), width=64, height=48))
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "shardgen.cli", *convert_args(root, out, "--workers", "2")],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        start_new_session=True,
    )
    try:
        for _ in range(600):
            if list(out.glob(".spool-*/0*")):
                break
            if process.poll() is not None:
                pytest.skip("the conversion finished before it could be killed")
            __import__("time").sleep(0.05)
        os.killpg(process.pid, 9)
    finally:
        process.wait()
    assert list(out.glob(".spool-*"))
    assert main(convert_args(root, out)) == 0
    assert not list(out.glob(".spool-*")) and load_index(out).splits["all"]["n_samples"] == 45


def test_a_full_disk_is_one_line_naming_the_file(tmp_path):
    """A real write failure: the file size limit (RLIMIT_FSIZE) makes writes past 64 kB fail (EFBIG),
    as a full disk (ENOSPC) or a read-only one (EROFS) do."""
    import resource
    import signal

    def limit_file_size():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))

    root = folder_tree(tmp_path / "root", bad=False)
    for number in range(20):
        (root / "wave" / f"x{number}.raw").write_bytes(writers.write_evt2(recording(number, 5_000), width=64, height=48))
    out = tmp_path / "out"
    done = run_cli(convert_args(root, out), preexec=limit_file_size)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"shardgen: error: {out}/") and "File too large" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == []  # nothing half-written is published


def test_an_output_path_that_is_a_file_is_one_line(tmp_path):
    (tmp_path / "taken").write_text("a file")
    done = run_cli(convert_args(folder_tree(tmp_path / "root", bad=False), tmp_path / "taken" / "out"))
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert str(tmp_path / "taken") in done.stderr


def test_skipped_entries_are_json_in_the_index(tmp_path):
    root = folder_tree(tmp_path / "root")
    shardgen.convert("folder", root, tmp_path / "out", progress=False, on_error="skip")
    data = json.loads((tmp_path / "out" / "index.json").read_text())
    assert data["generator"]["options"]["skipped"][0]["sample"] == "clap_c1"
