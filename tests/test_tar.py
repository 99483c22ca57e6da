"""The tar reader against Python's tarfile (the independent reference), and its errors."""

from __future__ import annotations

import io
import tarfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neuroshards import tar as tario
from neuroshards.tar import ShardError, iter_samples, parse_members, samples_in_run

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}

name_part = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)


@st.composite
def archives(draw):
    """(format, [(name, payload)]): samples of 1-3 members with distinct extensions, some in
    folders, some with names longer than ustar's 100 bytes (GNU ``L`` / pax ``path`` records)."""
    tar_format = draw(st.sampled_from(sorted(FORMATS)))
    members = []
    for number in range(draw(st.integers(0, 6))):
        folder = draw(st.sampled_from(["", "dir/", "a" * 70 + "/" + "b" * 40 + "/"]))
        if tar_format == "ustar" and len(folder) > 60:
            folder = "dir/"
        stem = f"{folder}{draw(name_part)}{number}"
        for extension in draw(st.lists(st.sampled_from(["cls", "events.msgpack", "json"]), min_size=1, max_size=3, unique=True)):
            members.append((f"{stem}.{extension}", draw(st.binary(max_size=1500))))
    return tar_format, members


def write_tar(tar_format: str, members) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=FORMATS[tar_format]) as tar:
        for name, payload in members:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return out.getvalue()


def tarfile_members(data: bytes) -> list[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return [(info.name, tar.extractfile(info).read()) for info in tar if info.isfile()]


@settings(max_examples=150, deadline=None)
@given(archives())
def test_members_match_tarfile(archive):
    data = write_tar(*archive)
    members, _, ended = parse_members(data, "test.tar")
    assert [(name, payload) for name, payload, _ in members] == tarfile_members(data)
    assert ended


@settings(max_examples=100, deadline=None)
@given(archives(), st.sampled_from([512, 1024, 1536, 4096, 1 << 20]))
def test_streaming_in_chunks_gives_the_same_samples(archive, chunk):
    data = write_tar(*archive)
    whole = list(tario.group_samples(parse_members(data, "test.tar")[0], "test.tar"))
    original = tario.STREAM_CHUNK
    tario.STREAM_CHUNK = chunk
    try:
        assert list(iter_samples(io.BytesIO(data), "test.tar")) == whole
    finally:
        tario.STREAM_CHUNK = original


def _two_samples() -> bytes:
    return write_tar("ustar", [("a.cls", b"1"), ("a.events.msgpack", b"x" * 700), ("b.cls", b"2")])


def test_damaged_header_names_the_shard_and_offset():
    data = bytearray(_two_samples())
    data[1024 + 10] ^= 0x01  # inside the name in the second header (a.events.msgpack)
    with pytest.raises(ShardError, match=r"s\.tar at byte 1024: tar header checksum mismatch"):
        parse_members(bytes(data), "s.tar")


def test_truncated_shard_is_an_error_not_a_short_sample():
    data = _two_samples()
    with pytest.raises(ShardError, match=r"s\.tar at byte 1024: member .a\.events\.msgpack. truncated"):
        list(iter_samples(io.BytesIO(data[:1800]), "s.tar"))


def test_a_run_must_hold_the_samples_the_index_names():
    data = _two_samples()
    end = 512 * 5  # a.cls (2 blocks) + a.events.msgpack (3 blocks)
    assert [s["__key__"] for s in samples_in_run(data[:end], "s.tar", 0, ["a"])] == ["a"]
    with pytest.raises(ShardError, match=r"s\.tar at byte 0: the index expects samples \['b'\].*changed after its index"):
        samples_in_run(data[:end], "s.tar", 0, ["b"])


def test_repeated_member_in_a_sample_is_an_error():
    data = write_tar("ustar", [("a.cls", b"1"), ("a.cls", b"2")])
    with pytest.raises(ShardError, match=r"sample 'a' has member 'cls' twice"):
        list(iter_samples(io.BytesIO(data), "s.tar"))


def test_not_a_tar_file():
    with pytest.raises(ShardError, match=r"x\.tar at byte 0: "):
        parse_members(b"hello world" * 100, "x.tar")
