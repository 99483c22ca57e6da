"""Remote reads against a local HTTP server (a thread on 127.0.0.1) that misbehaves on purpose:
it stalls, drops connections mid-body, answers with the wrong range or length, and serves damaged
bytes. A fault that heals is survived (resumed with a Range request from the byte reached, the
samples identical to the local folder's); one that does not ends in one error that names the URL
and what was tried; wrong bytes are an error, never data. Timeouts are short (0.2 s) to keep it fast."""

from __future__ import annotations

import collections
import http.server
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from neuroshards.errors import IntegrityError, ShardError
from neuroshards.index import load_index
from neuroshards.sources import RemoteOptions, ShardStore
from shardgen.cli import main
from shardgen.synthetic.shards import write_uneven_shards
from streams import EventStream, ShardDataset

SIZES = [6, 3, 5]
STALL_S = 0.6  # past the 0.2 s read timeout


class FaultyHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``root``; the first path part names the fault: ``ok``, ``drop`` (body cut in half,
    once per file), ``stall`` (once per file), ``dropalways``, ``stallalways``, ``wrongrange`` (a 206
    for bytes other than asked), ``short`` (a Content-Length shorter than the range), ``bigger`` (a
    file larger than the index says), ``flip`` (one byte of the first sample inverted)."""

    protocol_version = "HTTP/1.0"
    root: Path
    seen: collections.Counter
    log: list

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        fault, _, name = self.path.lstrip("/").partition("/")
        path = self.root / name
        if not name.endswith(".tar"):
            fault = "ok"  # the index files come through: the faults hit the shards
        requested = self.headers.get("Range", "")
        self.log.append((fault, name, requested))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        first_time = self.seen[(fault, name)] == 0
        self.seen[(fault, name)] += 1
        if fault == "flip":
            data = bytearray(data)
            data[600] ^= 0xFF  # in the first sample's payload
            data = bytes(data)
        if fault == "bigger":
            data += bytes(512)
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", requested)
        start = int(match[1]) if match else 0
        end = int(match[2]) + 1 if match and match[2] else len(data)
        body = data[start:end]
        if fault == "stallalways" or (fault == "stall" and first_time):
            time.sleep(STALL_S)
        partial = bool(match) or fault == "wrongrange"
        if fault == "wrongrange":
            start, body = start + 1, data[start + 1 : end]
        self.send_response(206 if partial else 200)
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{start + len(body) - 1}/{len(data)}")
        length = len(body) - 1 if fault == "short" else len(body)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            if fault == "dropalways" or (fault == "drop" and first_time and len(body) > 1):
                self.wfile.write(body[: len(body) // 2] if fault == "drop" else b"")
                self.wfile.flush()
                self.connection.shutdown(2)  # the connection breaks mid-body
                return
            self.wfile.write(body[:length])
        except (BrokenPipeError, ConnectionResetError):  # the client gave up on a stalled answer
            pass


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faults")
    write_uneven_shards(root / "data", SIZES)
    return root / "data"


class KeepAliveHandler(FaultyHandler):
    """HTTP/1.1: connections stay open between requests, unless ``close_idle`` (then the server
    closes each one after its answer without saying so, as servers drop idle connections)."""

    protocol_version = "HTTP/1.1"
    close_idle = False

    def do_GET(self) -> None:
        self.log.append(("connection", self.client_address[1], ""))
        super().do_GET()
        if self.close_idle:
            self.close_connection = True


@pytest.fixture
def server(request, dataset, monkeypatch):
    """The base URL (``http://127.0.0.1:PORT/``) and the request log; short timeouts for the client."""
    for name, value in {
        "NEUROSHARDS_CONNECT_TIMEOUT": "0.5",
        "NEUROSHARDS_READ_TIMEOUT": "0.2",
        "NEUROSHARDS_RETRIES": "3",
        "NEUROSHARDS_RETRY_BACKOFF": "0.01",
    }.items():
        monkeypatch.setenv(name, value)
    base, extra = getattr(request, "param", (FaultyHandler, {}))
    handler = type("Handler", (base,), {"root": dataset, "seen": collections.Counter(), "log": [], **extra})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", handler.log
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def _samples(location, **options) -> list[tuple[str, int, bytes]]:
    stream = EventStream(location, split="train", **options)
    return [(s["__key__"], s["label"], np.ascontiguousarray(s["events"]["t"]).tobytes()) for s in stream]


@pytest.mark.parametrize("fault", ["drop", "stall"])
@pytest.mark.parametrize("shuffle", [False, "sample"])
def test_a_fault_that_heals_is_resumed_from_the_byte_reached(dataset, server, fault, shuffle):
    base, log = server
    assert _samples(base + fault + "/", shuffle=shuffle, seed=2) == _samples(dataset, shuffle=shuffle, seed=2)
    if fault == "drop" and not shuffle:  # the first shard's samples reach past its middle, where the body broke
        shard = load_index(dataset).shards[0]
        ranges = [requested for kind, name, requested in log if name == shard.path]
        assert ranges == ["", f"bytes={shard.bytes // 2}-{shard.bytes - 1}"]


def test_random_reads_resume_too(dataset, server):
    base, _ = server
    index = load_index(dataset)
    local, remote = ShardStore(dataset), ShardStore(base + "drop/")
    for row in (0, len(index.samples) - 1):
        name = index.shards[index.samples.shard[row]].path
        start, end = int(index.samples.offset[row]), int(index.samples.offset[row] + index.samples.size[row])
        assert remote.read_range(name, start, end) == local.read_range(name, start, end)


def test_sequential_plans_stream_each_shard_once_random_plans_ask_for_each_sample(dataset, server):
    base, log = server
    index = load_index(dataset)
    assert _samples(base + "ok/") == _samples(dataset)
    assert [name for _, name, _ in log if name.endswith(".tar")] == [shard.path for shard in index.shards]
    log.clear()
    # read_ahead=1: no window of reads to sort into storage order, so neighbours rarely meet
    assert _samples(base + "ok/", shuffle="sample", seed=4, read_ahead=1) == _samples(dataset, shuffle="sample", seed=4)
    ranges = [requested for _, name, requested in log if name.endswith(".tar")]
    starts = set(index.samples.offset.tolist())
    ends = set((index.samples.offset + index.samples.size).tolist())
    bounded = [re.fullmatch(r"bytes=(\d+)-(\d+)", requested) for requested in ranges[1:]]
    # The first stream reads on; once it served one run only, each run (a sample, or neighbours
    # drawn one after the other) is one exact request.
    assert len(ranges) > len(index.samples) // 2
    assert all(match and int(match[1]) in starts and int(match[2]) + 1 in ends for match in bounded)


@pytest.mark.parametrize(
    "server, connections",
    [((KeepAliveHandler, {}), 1), ((KeepAliveHandler, {"close_idle": True}), 12)],
    indirect=["server"],
    ids=["keep-alive", "closes-idle"],
)
def test_random_reads_reuse_the_connection_while_the_server_keeps_it(dataset, server, connections, monkeypatch):
    monkeypatch.setenv("NEUROSHARDS_RETRIES", "0")  # a connection closed while idle is no failure
    base, log = server
    index = load_index(dataset)
    local, remote = ShardStore(dataset), ShardStore(base + "ok/")
    for row in range(12):
        name = index.shards[index.samples.shard[row]].path
        start, end = int(index.samples.offset[row]), int(index.samples.offset[row] + index.samples.size[row])
        assert remote.read_range(name, start, end) == local.read_range(name, start, end)
    assert len({port for kind, port, _ in log if kind == "connection"}) == connections


@pytest.mark.parametrize(
    "fault, what",
    [
        ("dropalways", "the connection closed at byte 0"),
        ("stallalways", "timed out"),
        ("wrongrange", r"asked for bytes 0-20479, the answer holds bytes 1-20479"),
    ],
)
def test_a_fault_that_persists_is_one_error_naming_the_url_and_the_attempts(server, fault, what):
    base, log = server
    started = time.monotonic()
    with pytest.raises(
        ShardError,
        match=rf"{re.escape(base + fault)}/train-000000\.tar: .* failed after 4 attempts .*read timeout 0.2 s.*last error: .*{what}",
    ):
        _samples(base + fault + "/")
    assert time.monotonic() - started < 10
    assert sum(1 for kind, name, _ in log if name == "train-000000.tar") == 4  # the first try and 3 retries


def test_the_stream_and_the_dataset_take_their_own_remote_options(dataset, server):
    base, log = server
    options = RemoteOptions(connect_timeout=0.5, read_timeout=0.1, retries=1, backoff=0.01)
    with pytest.raises(ShardError, match=r"failed after 2 attempts .*read timeout 0.1 s"):
        _samples(base + "stallalways/", remote=options)
    with pytest.raises(ShardError, match=r"failed after 2 attempts .*read timeout 0.1 s"):
        ShardDataset(base + "stallalways/", split="train", remote=options)[0]


@pytest.mark.parametrize("fault", ["bigger", "short"])
def test_a_file_of_another_size_than_the_index_says_is_refused_at_once(server, fault):
    base, log = server
    with pytest.raises(IntegrityError, match=rf"{fault}/train-000000\.tar: the server holds \d+ bytes, the index records 20480"):
        _samples(base + fault + "/")
    assert sum(1 for kind, name, _ in log if name == "train-000000.tar") == 1  # not retried: no retry cures it


@pytest.mark.parametrize(
    "fault, what",
    [("short", r"the answer holds bytes 512-611 \(Content-Length 99\)"), ("wrongrange", "the answer holds bytes 513-611")],
)
def test_a_random_read_answered_with_other_bytes_than_asked_is_an_error(server, fault, what):
    base, _ = server
    with pytest.raises(
        ShardError, match=rf"{fault}/train-000000\.tar: .* failed after 4 attempts.*asked for bytes 512-611, {what}"
    ):
        ShardStore(base + fault + "/").read_range("train-000000.tar", 512, 612)


def test_damaged_bytes_over_http_are_an_error_never_data(server):
    base, _ = server
    with pytest.raises(
        IntegrityError, match=r"flip/train-000000\.tar at byte 0: sample 'uneven_00000' .* does not match the checksum"
    ):
        _samples(base + "flip/")


def test_a_missing_file_is_not_retried(dataset, server):
    base, log = server
    with pytest.raises(Exception, match=r"absent/index\.json: no index"):
        _samples(base + "ok/absent/")
    assert len(log) == 1


def test_verify_over_http_reports_every_damaged_shard(dataset, server, capsys):
    base, _ = server
    assert main(["verify", base + "ok/"]) == 0
    assert main(["verify", base + "flip/"]) == 1
    bad = [line for line in capsys.readouterr().out.splitlines() if line.startswith("BAD")]
    index = load_index(dataset)
    assert len(bad) == len(index.shards)
    for line, shard, first in zip(bad, index.shards, index.shard_starts):
        assert line.startswith(f"BAD {shard.path}: sha256 ") and f"the index records {shard.sha256[:16]}..." in line
        assert line.endswith(f"1 of {shard.n_samples} samples fail their checksum: {index.samples.key_of(first)!r} at byte 0")
