"""Shards streamed from a local HTTP server (http.server in a thread on 127.0.0.1) give the same
samples as from disk: with and without range support on the server, and through a bounded cache."""

from __future__ import annotations

import http.server
import os
import re
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from shardgen.synthetic.shards import write_uneven_shards
from streams import EventStream, ShardError

SIZES = [5, 2, 8, 3]


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus single ``Range: bytes=a-[b]`` requests (206 responses)."""

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def do_GET(self) -> None:
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if not match:
            return super().do_GET()
        path = Path(self.translate_path(self.path))
        data = path.read_bytes()
        start = int(match[1])
        end = int(match[2]) + 1 if match[2] else len(data)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        self.send_header("Content-Length", str(end - start))
        self.end_headers()
        self.wfile.write(data[start:end])


class PlainHandler(http.server.SimpleHTTPRequestHandler):
    """No range support: every request gets the whole file (200)."""

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("remote")
    write_uneven_shards(root / "uneven", SIZES)
    return root


def _serve(directory: Path, handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(directory)))
    server.timeout = 10
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture(scope="module", params=[RangeHandler, PlainHandler], ids=["ranges", "no-ranges"])
def base_url(request, shards):
    server, thread = _serve(shards, request.param)
    yield f"http://127.0.0.1:{server.server_address[1]}/uneven/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def _samples(stream) -> list[tuple[str, int, bytes]]:
    return [(s["__key__"], s["label"], np.ascontiguousarray(s["events"]["t"]).tobytes()) for s in stream]


@pytest.mark.parametrize("shuffle", [False, "shard", "sample"])
def test_http_streams_the_same_samples_as_disk(shards, base_url, shuffle):
    options = dict(split="train", shuffle=shuffle, seed=3, shuffle_buffer=3, remainder="drop")
    local = _samples(EventStream(shards / "uneven", **options))
    remote = _samples(EventStream(base_url, **options))
    assert remote == local and len(local) == sum(SIZES)


def test_http_index_url_and_two_ranks_match_disk(shards, base_url):
    for rank in range(2):
        options = dict(split="train", shuffle=True, seed=1, rank=rank, world_size=2)
        assert _samples(EventStream(base_url + "index.json", **options)) == _samples(EventStream(shards / "uneven", **options))


def test_cache_holds_whole_shards_within_its_bound(shards, base_url, tmp_path):
    sizes = sorted(path.stat().st_size for path in (shards / "uneven").glob("*.tar"))
    bound = sizes[-1] + sizes[0]  # room for the largest shard and the smallest one, not all
    cache = tmp_path / "cache"
    options = dict(split="train", shuffle="sample", seed=5)
    expected = _samples(EventStream(shards / "uneven", **options))
    for _ in range(2):
        assert _samples(EventStream(base_url, cache_dir=cache, cache_bytes=bound, **options)) == expected
        cached = [path.stat().st_size for path in cache.iterdir()]
        assert cached and sum(cached) <= bound
        assert not [path for path in cache.iterdir() if path.name.startswith(".")]


def test_cache_rejects_a_shard_that_differs_from_the_index(shards, base_url, tmp_path):
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    for path in (shards / "uneven").iterdir():
        (damaged / path.name).write_bytes(path.read_bytes())
    shard = sorted(damaged.glob("*.tar"))[0]
    data = bytearray(shard.read_bytes())
    data[600] ^= 0xFF  # inside the first member's payload: only the checksum of the whole shard sees it
    shard.write_bytes(bytes(data))
    server, thread = _serve(tmp_path, RangeHandler)
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/damaged/"
        with pytest.raises(ShardError, match=rf"{shard.name}: sha256 .* differs from the index"):
            _samples(EventStream(url, split="train", cache_dir=tmp_path / "cache"))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_missing_remote_shard_names_its_url(shards, base_url):
    stream = EventStream(base_url, split="train")
    stream.catalog.files[0] = (0, "absent-000000.tar", 1, "0" * 64)
    with pytest.raises(ShardError, match=r"absent-000000\.tar: cannot fetch"):
        _samples(stream)


def test_pipe_locations_need_an_explicit_opt_in(shards):
    template = f"pipe:cat {os.fspath(shards / 'uneven')}/{{path}}"
    with pytest.raises(ValueError, match="allow_pipe=True"):
        EventStream(template, split="train")
    options = dict(split="train", shuffle=True, seed=2)
    assert _samples(EventStream(template, allow_pipe=True, **options)) == _samples(EventStream(shards / "uneven", **options))
