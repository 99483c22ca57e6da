"""Shards over http(s)://: one GET with a ``Range`` header per sequential stream or random read.

Every answer is checked against what was asked before a byte of its body is used: a 206 must cover
exactly the requested range (``Content-Range``) of a file of the size the index records, a 200 must
be the whole file; a body that ends early is resumed from the byte reached (``ResumableStream``).
A server without range support is read from the start and the bytes before the range skipped.
Connections honour the ``http_proxy``/``https_proxy``/``no_proxy`` environment variables as
``urllib`` does, follow redirects (at most ``MAX_REDIRECTS``), and are kept for the next request
once an answer was read to its end (``_IdleConnections``).
"""

from __future__ import annotations

import http.client
import os
import re
import threading
import urllib.parse
import urllib.request
from typing import BinaryIO

from neuroshards.errors import IntegrityError, ShardError, ShardNotFoundError

from .remote import RemoteOptions, ResumableStream, TransientError

MAX_REDIRECTS = 5
SKIP_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_RETRIED_STATUSES = {408, 425, 429, 500, 502, 503, 504}


class _IdleConnections(threading.local):
    """Per thread (and process: a forked DataLoader worker must not share its parent's sockets),
    the connections whose last answer was read to its end, kept for the next request to the same
    server: random reads (``read_range``) then cost no new TCP or TLS handshake each."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.connections: dict[tuple, http.client.HTTPConnection] = {}

    def take(self, key: tuple) -> http.client.HTTPConnection | None:
        if self.pid != os.getpid():
            self.pid, self.connections = os.getpid(), {}
        return self.connections.pop(key, None)

    def give_back(self, key: tuple, connection: http.client.HTTPConnection) -> None:
        if self.pid == os.getpid() and key not in self.connections:
            self.connections[key] = connection
        else:
            connection.close()


_idle = _IdleConnections()


def _route(url: urllib.parse.SplitResult) -> tuple[tuple, str]:
    """Where to connect for ``url`` (through the environment's proxy, if any: a key naming the
    connection) and the request target."""
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ShardError(f"{url.geturl()}: not an http(s) URL")
    target = urllib.parse.urlunsplit(("", "", url.path or "/", url.query, ""))
    proxy = None if urllib.request.proxy_bypass(url.hostname) else urllib.request.getproxies().get(url.scheme)
    if not proxy:
        return (url.scheme, url.hostname, url.port, None), target
    proxy_url = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if url.scheme == "https":  # a CONNECT tunnel through the proxy
        return ("https", proxy_url.hostname, proxy_url.port or 80, (url.hostname, url.port or 443)), target
    return ("http", proxy_url.hostname, proxy_url.port or 80, None), url.geturl()


def _connect(key: tuple, options: RemoteOptions) -> http.client.HTTPConnection:
    scheme, host, port, tunnel = key
    connection_class = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    connection = connection_class(host, port, timeout=options.connect_timeout)
    if tunnel is not None:
        connection.set_tunnel(*tunnel)
    connection.connect()
    connection.sock.settimeout(options.read_timeout)  # from here on: waiting for bytes, not for a connection
    return connection


class _Body:
    """A response's body; closing it hands its connection back for reuse when the body was read
    to its end and the server keeps the connection open."""

    def __init__(self, response: http.client.HTTPResponse, connection: http.client.HTTPConnection, key: tuple):
        self.response, self.connection, self.key = response, connection, key

    def readinto(self, buffer) -> int:
        return self.response.readinto(buffer)

    def read(self, size: int = -1) -> bytes:
        return self.response.read(size)

    def close(self) -> None:
        reusable = self.response.isclosed() and not self.response.will_close  # read to its end
        self.response.close()
        if reusable:
            _idle.give_back(self.key, self.connection)
        else:
            self.connection.close()


def _request(key: tuple, target: str, headers: dict[str, str], options: RemoteOptions):
    """Send the GET on an idle connection to the server, or on a new one when there is none or the
    idle one turns out closed by the server meanwhile (not a failure: servers close idle connections)."""
    connection = _idle.take(key)
    if connection is not None:
        try:
            connection.request("GET", target, headers=headers)
            return connection, connection.getresponse()
        except (http.client.RemoteDisconnected, http.client.BadStatusLine, ConnectionError):
            connection.close()
    connection = _connect(key, options)
    try:
        connection.request("GET", target, headers=headers)
        return connection, connection.getresponse()
    except BaseException:
        connection.close()
        raise


def _get(url: str, headers: dict[str, str], options: RemoteOptions) -> _Body:
    """The response to a GET of ``url``, redirects followed; 4xx answers (but 408/429) are final."""
    for _ in range(MAX_REDIRECTS + 1):
        key, target = _route(urllib.parse.urlsplit(url))
        connection, response = _request(key, target, {**headers, "Accept-Encoding": "identity"}, options)
        if response.status in (200, 206):
            return _Body(response, connection, key)
        connection.close()
        if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
            url = urllib.parse.urljoin(url, response.getheader("Location"))
            continue
        problem = f"HTTP {response.status} {response.reason}"
        if response.status == 404:
            raise ShardNotFoundError(f"{url}: cannot fetch ({problem})")
        if response.status in _RETRIED_STATUSES or response.status >= 500:
            raise TransientError(problem)
        raise ShardError(f"{url}: cannot fetch ({problem})")
    raise ShardError(f"{url}: more than {MAX_REDIRECTS} redirects")


def _open_range(url: str, start: int, end: int | None, size: int | None, options: RemoteOptions) -> tuple[BinaryIO, int | None]:
    """A response positioned at ``start`` that delivers bytes up to ``end`` (None: the end of the
    file, ``size`` bytes when the index says so), after checking its headers against the request."""
    headers = {"Range": f"bytes={start}-{'' if end is None else end - 1}"} if start or end is not None else {}
    body = _get(url, headers, options)
    response = body.response
    length = response.getheader("Content-Length")
    length = int(length) if length and length.isdigit() else None
    try:
        if response.status == 206:
            match = _CONTENT_RANGE.fullmatch(response.getheader("Content-Range") or "")
            if not match:
                raise TransientError(f"a partial answer with Content-Range {response.getheader('Content-Range')!r}")
            first, last, total = int(match[1]), int(match[2]), match[3]
            total = None if total == "*" else int(total)
            if size is not None and total is not None and total != size:
                raise IntegrityError(
                    f"{url}: the server holds {total} bytes, the index records {size}: the shard changed after its index was written"
                )
            wanted_end = end if end is not None else (size if size is not None else total)
            if (
                first != start
                or (wanted_end is not None and last + 1 != wanted_end)
                or (length is not None and length != last + 1 - first)
            ):
                raise TransientError(
                    f"asked for bytes {start}-{'' if wanted_end is None else wanted_end - 1}, the answer holds bytes "
                    f"{first}-{last} (Content-Length {length})"
                )
            return body, last + 1
        # 200: the whole file, whatever was asked.
        if size is not None and length is not None and length != size:
            raise IntegrityError(
                f"{url}: the server holds {length} bytes, the index records {size}: the shard changed after its index was written"
            )
        if length is None and size is not None:
            length = size
        _skip(body, start, url)
        return body, end if end is not None else length
    except BaseException:
        body.connection.close()
        body.response.close()
        raise


def _skip(stream: BinaryIO, count: int, where: str) -> None:
    while count > 0:
        skipped = len(stream.read(min(count, SKIP_CHUNK)))
        if skipped == 0:
            raise TransientError(f"the body ended {count} bytes before the requested offset")
        count -= skipped


class HttpFiles:
    """The files of one URL prefix."""

    kind = "http"

    def __init__(self, location: str, options: RemoteOptions):
        self.location = location if location.endswith("/") else location + "/"
        self.options = options

    def where(self, name: str) -> str:
        return urllib.parse.urljoin(self.location, name)

    def open(self, name: str, start: int, end: int | None = None, size: int | None = None) -> ResumableStream:
        url = self.where(name)
        return ResumableStream(
            url, lambda position, stop: _open_range(url, position, stop, size, self.options), start, end, self.options
        )
