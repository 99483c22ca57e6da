"""Shards over http(s)://: one GET with a ``Range`` header per sequential stream or random read.

Every answer is checked against what was asked before a byte of its body is used: a 206 must cover
exactly the requested range (``Content-Range``) of a file of the size the index records, a 200 must
be the whole file; a body that ends early is resumed from the byte reached (``ResumableStream``).
A server without range support is read from the start and the bytes before the range skipped.
Connections honour the ``http_proxy``/``https_proxy``/``no_proxy`` environment variables as
``urllib`` does, and follow redirects (at most ``MAX_REDIRECTS``).
"""

from __future__ import annotations

import http.client
import re
import urllib.parse
import urllib.request
from typing import BinaryIO

from neuroshards.errors import IntegrityError, ShardError

from .remote import RemoteOptions, ResumableStream, ShardNotFoundError, TransientError

MAX_REDIRECTS = 5
SKIP_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_RETRIED_STATUSES = {408, 425, 429, 500, 502, 503, 504}


def _connect(url: urllib.parse.SplitResult, options: RemoteOptions) -> tuple[http.client.HTTPConnection, str]:
    """An open connection for ``url`` (through the environment's proxy, if any) and the request target."""
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ShardError(f"{url.geturl()}: not an http(s) URL")
    target = urllib.parse.urlunsplit(("", "", url.path or "/", url.query, ""))
    proxy = None if urllib.request.proxy_bypass(url.hostname) else urllib.request.getproxies().get(url.scheme)
    connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
    if proxy:
        proxy_url = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if url.scheme == "https":
            connection = http.client.HTTPSConnection(proxy_url.hostname, proxy_url.port or 80, timeout=options.connect_timeout)
            connection.set_tunnel(url.hostname, url.port or 443)
        else:
            connection = http.client.HTTPConnection(proxy_url.hostname, proxy_url.port or 80, timeout=options.connect_timeout)
            target = url.geturl()
    else:
        connection = connection_class(url.hostname, url.port, timeout=options.connect_timeout)
    connection.connect()
    connection.sock.settimeout(options.read_timeout)  # from here on: waiting for bytes, not for a connection
    return connection, target


def _get(url: str, headers: dict[str, str], options: RemoteOptions) -> http.client.HTTPResponse:
    """The response to a GET of ``url``, redirects followed; 4xx answers (but 408/429) are final."""
    for _ in range(MAX_REDIRECTS + 1):
        connection, target = _connect(urllib.parse.urlsplit(url), options)
        try:
            connection.request("GET", target, headers={**headers, "Accept-Encoding": "identity"})
            response = connection.getresponse()
        except BaseException:
            connection.close()
            raise
        if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
            url = urllib.parse.urljoin(url, response.getheader("Location"))
            connection.close()
            continue
        if response.status in (200, 206):
            return response
        connection.close()
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
    response = _get(url, headers, options)
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
                raise IntegrityError(f"{url}: the server holds {total} bytes, the index records {size}: the shard changed after its index was written")
            wanted_end = end if end is not None else (size if size is not None else total)
            if first != start or (wanted_end is not None and last + 1 != wanted_end) or (length is not None and length != last + 1 - first):
                raise TransientError(
                    f"asked for bytes {start}-{'' if wanted_end is None else wanted_end - 1}, the answer holds bytes "
                    f"{first}-{last} (Content-Length {length})"
                )
            return response, last + 1
        # 200: the whole file, whatever was asked.
        if size is not None and length is not None and length != size:
            raise IntegrityError(f"{url}: the server holds {length} bytes, the index records {size}: the shard changed after its index was written")
        if length is None and size is not None:
            length = size
        _skip(response, start, url)
        return response, end if end is not None else length
    except BaseException:
        response.close()
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
        return ResumableStream(url, lambda position, stop: _open_range(url, position, stop, size, self.options), start, end, self.options)
