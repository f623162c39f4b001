"""Tests of hub_server.archive: deterministic packing, hostile uploads, strict YAML.

Malicious archives are built in memory; the bombs are built from a repeated compressed block,
so a "2 GiB" stream costs about 2 MiB and a few milliseconds to make.
"""

import gzip
import io
import os
import shutil
import stat
import tarfile
import time
import tracemalloc
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub_server import archive
from hub_server.archive import ArchiveLimits, digest, load_yaml, pack, read_text, unpack
from hub_server.errors import InvalidPackage, PayloadTooLarge

GiB = 1024**3
MiB = 1024**2

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def member(
    name: str, size: int = 0, type_: bytes = tarfile.REGTYPE, **attrs: Any
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.type = type_
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def raw_tar(
    entries: Sequence[tuple[tarfile.TarInfo, bytes | None]], fmt: int = tarfile.USTAR_FORMAT
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def tgz(
    entries: Sequence[tuple[tarfile.TarInfo, bytes | None]], fmt: int = tarfile.USTAR_FORMAT
) -> bytes:
    return gzip.compress(raw_tar(entries, fmt), mtime=0)


def files_tgz(files: dict[str, bytes]) -> bytes:
    return tgz([(member(name, len(data)), data) for name, data in files.items()])


def gzip_zeros(prefix: bytes, zeros: int, chunk: int = MiB) -> Iterator[bytes]:
    """A gzip stream of ``prefix`` followed by ``zeros`` zero bytes, yielded lazily.

    After a full flush the compressor has no history, so compressing another chunk of zeros
    gives the same bytes every time: one block is compressed and then repeated. The trailer
    (CRC) is not valid, which does not matter: a bomb must be stopped long before it.
    """
    assert zeros % chunk == 0
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    yield compressor.compress(prefix) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(bytes(chunk)) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert again == block
    for _ in range(zeros // chunk):
        yield block
    yield compressor.flush()


def refused(excinfo: pytest.ExceptionInfo[Any], code: str, path: str | None = None) -> None:
    """Assert the error's exact code, a human sentence, and the offending path if any."""
    err = excinfo.value
    assert err.code == code, (err.code, err.message)
    assert err.message[:1].isupper(), err.message
    assert err.message.endswith("."), err.message
    assert err.to_body()["error"]["code"] == code
    if path is not None:
        assert err.detail["path"] == path


def make_package(root: Path, *, reverse: bool = False) -> Path:
    files = {
        "hub.yaml": b"name: demo\nversion: 1.0.0\n",
        "component.yaml": b"name: demo\nimplementation: {container: {image: busybox}}\n",
        "README.md": "# Démo\n".encode(),
        "component.py": b"print('hi')\n",
        "build.sh": b"#!/bin/sh\necho build\n",
        "tests/inputs.yaml": b"x: 1\n",
        "tests/data/sample.csv": b"a,b\n1,2\n",
    }
    items = sorted(files.items(), reverse=reverse)
    for name, data in items:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    (root / "build.sh").chmod(0o755)
    return root


def names_in(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getnames()


# --------------------------------------------------------------------------------------------
# pack: determinism
# --------------------------------------------------------------------------------------------


def test_pack_twice_is_byte_identical(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "pkg")
    first = pack(folder)
    assert pack(folder) == first
    assert digest(first) == digest(pack(folder))
    assert digest(first).startswith("sha256:")
    assert len(digest(first)) == len("sha256:") + 64


def test_pack_copy_with_other_mtimes_modes_owners_and_order_gives_same_digest(
    tmp_path: Path,
) -> None:
    original = make_package(tmp_path / "a")
    # Created in the opposite order, so directory listing order differs too.
    other = make_package(tmp_path / "elsewhere" / "b", reverse=True)
    for i, path in enumerate(sorted(other.rglob("*"))):
        os.utime(path, (1_000_000 + i * 977, 2_000_000_000 - i * 31))
    (other / "README.md").chmod(0o600)  # group/other bits do not matter
    (other / "build.sh").chmod(0o700)  # the owner's execute bit does
    (other / "tests").chmod(0o700)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        for path in other.rglob("*"):
            os.chown(path, 1234, 5678)
    assert pack(other) == pack(original)


def test_pack_normalises_metadata(tmp_path: Path) -> None:
    data = pack(make_package(tmp_path / "pkg"))
    # gzip header: magic, deflate, no flags (so no file name), mtime 0, XFL 2, OS 255
    assert data[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert names == [
        "README.md",
        "build.sh",
        "component.py",
        "component.yaml",
        "hub.yaml",
        "tests/data/sample.csv",
        "tests/inputs.yaml",
    ]
    for m in members:
        assert m.isreg()
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "")
        assert not m.pax_headers
        assert m.mode == (0o755 if m.name == "build.sh" else 0o644)
    raw = gzip.decompress(data)
    assert raw[257:265] == b"ustar\x0000"  # plain USTAR headers, no GNU/PAX extras


def test_pack_skips_junk(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "pkg")
    junk = [
        ".git/config",
        ".git/objects/ab/cdef",
        "__pycache__/component.cpython-311.pyc",
        "tests/__pycache__/x.pyc",
        "stray.pyc",
        ".DS_Store",
        "tests/.DS_Store",
        ".ipynb_checkpoints/nb-checkpoint.ipynb",
        ".venv/lib/site.py",
        "dist/demo-1.0.0.tar.gz",
    ]
    for name in junk:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"junk")
    # A virtualenv is full of symlinks; being skipped, they must not be refused.
    (folder / ".venv" / "python").symlink_to("/usr/bin/python3")
    clean = pack(make_package(tmp_path / "clean"))
    assert pack(folder) == clean


def test_pack_honours_hubignore(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "pkg")
    (folder / ".hubignore").write_text(
        "# local things\n\n*.log\nscratch/\n/secret.txt\ntests/data/*.csv\nlink\n"
    )
    for name in [
        "run.log",
        "tests/deep/run.log",
        "scratch/a.txt",
        "secret.txt",
        "tests/data/big.csv",
    ]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    (folder / "tests" / "secret.txt").write_bytes(b"kept: the rule is anchored")
    (folder / "scratch.txt").write_bytes(b"kept: scratch/ matches directories only")
    (folder / "link").symlink_to("hub.yaml")  # ignored, so not refused
    names = names_in(pack(folder))
    assert ".hubignore" in names
    assert "tests/secret.txt" in names
    assert "scratch.txt" in names
    for gone in ["run.log", "tests/deep/run.log", "scratch/a.txt", "secret.txt", "link"]:
        assert gone not in names
    assert not [n for n in names if n.startswith("tests/data/")]


def test_pack_refuses_symlink(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "pkg")
    (folder / "tests" / "alias.yaml").symlink_to("../hub.yaml")
    with pytest.raises(InvalidPackage) as excinfo:
        pack(folder)
    refused(excinfo, "unsupported_file", "tests/alias.yaml")


def test_pack_refuses_symlinked_directory(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "pkg")
    (folder / "elsewhere").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(InvalidPackage) as excinfo:
        pack(folder)
    refused(excinfo, "unsupported_file", "elsewhere")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs mkfifo")
def test_pack_refuses_fifo(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "pkg")
    os.mkfifo(folder / "pipe")
    with pytest.raises(InvalidPackage) as excinfo:
        pack(folder)
    refused(excinfo, "unsupported_file", "pipe")


@pytest.mark.skipif(os.name == "nt", reason="a backslash cannot be in a Windows file name")
def test_pack_refuses_name_that_unpack_would_refuse(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "pkg")
    (folder / "a\\b.txt").write_bytes(b"x")
    with pytest.raises(InvalidPackage) as excinfo:
        pack(folder)
    refused(excinfo, "unsafe_path", "a\\b.txt")


def test_pack_refuses_path_too_long_for_ustar(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "pkg")
    deep = folder / ("d" * 120) / ("e" * 120)
    deep.mkdir(parents=True)
    (deep / ("f" * 30)).write_bytes(b"x")
    with pytest.raises(InvalidPackage) as excinfo:
        pack(folder)
    refused(excinfo, "path_too_long")


def test_pack_refuses_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidPackage) as excinfo:
        pack(tmp_path / "nope")
    refused(excinfo, "not_a_directory")


# --------------------------------------------------------------------------------------------
# unpack: accepted archives
# --------------------------------------------------------------------------------------------


def test_round_trip(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "pkg")
    files = unpack(pack(folder))
    expected = {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }
    assert files == expected
    assert read_text(files, "README.md") == "# Démo\n"


def test_unpack_accepts_directory_entries_and_dot_slash(tmp_path: Path) -> None:
    # What `tar -C pkg -czf x.tgz .` produces.
    folder = make_package(tmp_path / "pkg")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        tar.add(folder, arcname=".")
    files = unpack(buf.getvalue())
    assert files == unpack(pack(folder))


def test_unpack_accepts_pax_archives() -> None:
    data = tgz([(member("dé/ja.txt", 2), b"ok")], tarfile.PAX_FORMAT)
    assert unpack(data) == {"dé/ja.txt": b"ok"}


# --------------------------------------------------------------------------------------------
# unpack: refusals
# --------------------------------------------------------------------------------------------


def test_archive_too_large() -> None:
    data = files_tgz({"a": os.urandom(4096)})
    with pytest.raises(PayloadTooLarge) as excinfo:
        unpack(data, ArchiveLimits(max_archive_bytes=1024))
    refused(excinfo, "archive_too_large")
    assert excinfo.value.status_code == 413


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"PK\x03\x04 not a tarball", id="zip"),
        pytest.param(raw_tar([(member("a", 1), b"x")]), id="uncompressed-tar"),
        pytest.param(gzip.compress(b"hello, I am not a tar file" * 40, mtime=0), id="gzip-not-tar"),
        pytest.param(b"\x1f\x8b" + os.urandom(200), id="gzip-magic-garbage"),
    ],
)
def test_not_a_gzip_tar(data: bytes) -> None:
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(data)
    refused(excinfo, "invalid_archive")


@pytest.mark.parametrize("cut", [1, 4, 8, 50, 200])
def test_truncated_gzip(cut: int) -> None:
    data = files_tgz({"hub.yaml": os.urandom(3000), "README.md": b"# hi\n"})
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(data[:-cut])
    refused(excinfo, "invalid_archive")


def test_corrupt_gzip_crc() -> None:
    data = bytearray(files_tgz({"hub.yaml": b"name: x\n"}))
    data[-8] ^= 0xFF  # CRC32 in the trailer
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(bytes(data))
    refused(excinfo, "invalid_archive")


def test_trailing_data_after_gzip() -> None:
    data = files_tgz({"hub.yaml": b"name: x\n"})
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(data + gzip.compress(raw_tar([(member("extra", 1), b"x")]), mtime=0))
    refused(excinfo, "invalid_archive")


def test_missing_end_of_archive_marker() -> None:
    info = member("a", 3)
    raw = info.tobuf(tarfile.USTAR_FORMAT) + b"abc".ljust(512, b"\0")
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(gzip.compress(raw, mtime=0))
    refused(excinfo, "invalid_archive")


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("../x", id="parent"),
        pytest.param("a/../../x", id="nested-parent"),
        pytest.param("a/..", id="trailing-parent"),
        pytest.param("a\\..\\..\\x", id="backslash"),
        pytest.param("C:/Windows/x", id="drive"),
        pytest.param("c:x", id="drive-relative"),
        pytest.param("", id="empty"),
        pytest.param(".", id="dot-as-file"),
        pytest.param("a\nb", id="control-char"),
    ],
)
def test_unsafe_path(name: str) -> None:
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(tgz([(member(name, 1), b"x")]))
    refused(excinfo, "unsafe_path", name)


def test_unsafe_path_nul_in_pax_name() -> None:
    # USTAR name fields end at NUL, so a NUL can only arrive through a PAX "path" record.
    info = member("a\x00b", 1, pax_headers={"path": "a\x00b"})
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(tgz([(info, b"x")], tarfile.PAX_FORMAT))
    refused(excinfo, "unsafe_path", "a\x00b")


def test_unsafe_path_on_directory_entry() -> None:
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(tgz([(member("../up", type_=tarfile.DIRTYPE), None)]))
    refused(excinfo, "unsafe_path", "../up")


@pytest.mark.parametrize(
    "names",
    [
        pytest.param(["hub.yaml", "hub.yaml"], id="same"),
        pytest.param(["hub.yaml", "./hub.yaml"], id="dot-slash"),
        pytest.param(["tests/a", "tests//a"], id="double-slash"),
    ],
)
def test_duplicate_entry(names: list[str]) -> None:
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(tgz([(member(n, 1), b"x") for n in names]))
    refused(excinfo, "duplicate_entry", names[0])


def test_file_and_directory_with_same_path() -> None:
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(files_tgz({"tests": b"x", "tests/a": b"y"}))
    refused(excinfo, "duplicate_entry", "tests/a")


def test_symlink() -> None:
    info = member("hub.yaml", type_=tarfile.SYMTYPE, linkname="/etc/passwd")
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(tgz([(info, None)]))
    refused(excinfo, "archive_link", "hub.yaml")
    assert excinfo.value.detail["target"] == "/etc/passwd"


def test_hardlink() -> None:
    info = member("copy", type_=tarfile.LNKTYPE, linkname="hub.yaml")
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(tgz([(member("hub.yaml", 1), b"x"), (info, None)]))
    refused(excinfo, "archive_link", "copy")


@pytest.mark.parametrize(
    ("type_", "fmt"),
    [
        pytest.param(tarfile.CHRTYPE, tarfile.USTAR_FORMAT, id="char-device"),
        pytest.param(tarfile.BLKTYPE, tarfile.USTAR_FORMAT, id="block-device"),
        pytest.param(tarfile.FIFOTYPE, tarfile.USTAR_FORMAT, id="fifo"),
        pytest.param(tarfile.GNUTYPE_SPARSE, tarfile.GNU_FORMAT, id="sparse"),
        pytest.param(b"V", tarfile.GNU_FORMAT, id="unknown-type"),
    ],
)
def test_special_file(type_: bytes, fmt: int) -> None:
    info = member("dev/null", type_=type_, devmajor=1, devminor=3)
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(tgz([(info, None)], fmt))
    refused(excinfo, "archive_special_file", "dev/null")


def test_entry_too_large() -> None:
    limits = ArchiveLimits(max_entry_bytes=100)
    assert unpack(files_tgz({"ok": bytes(100)}), limits) == {"ok": bytes(100)}
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(files_tgz({"ok": b"x", "big": bytes(101)}), limits)
    refused(excinfo, "archive_entry_too_large", "big")


def test_header_declaring_a_huge_size_is_refused_before_reading() -> None:
    # 2 GiB declared, a few bytes present: refused on the header alone.
    raw = member("hub.yaml", 2 * GiB).tobuf(tarfile.USTAR_FORMAT) + bytes(1024)
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(gzip.compress(raw, mtime=0))
    refused(excinfo, "archive_entry_too_large", "hub.yaml")
    assert excinfo.value.detail["size"] == 2 * GiB


def test_header_declaring_more_than_present() -> None:
    raw = member("hub.yaml", 5000).tobuf(tarfile.USTAR_FORMAT) + b"name: x\n".ljust(512, b"\0")
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(gzip.compress(raw, mtime=0))
    refused(excinfo, "invalid_archive")


def test_header_declaring_less_than_present() -> None:
    # The surplus data lands where the next header should be; tarfile alone would take that
    # as the end of the archive and silently drop whatever follows.
    raw = (
        member("hub.yaml", 8).tobuf(tarfile.USTAR_FORMAT)
        + (b"name: x\n" + b"A" * 3000).ljust(3584, b"\0")
        + raw_tar([(member("README.md", 2), b"hi")])
    )
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(gzip.compress(raw, mtime=0))
    refused(excinfo, "invalid_archive")


def test_total_uncompressed_too_large() -> None:
    limits = ArchiveLimits(max_entry_bytes=600, max_total_bytes=1000)
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(files_tgz({"a": bytes(600), "b": bytes(600)}), limits)
    refused(excinfo, "archive_too_large_uncompressed")


def test_too_many_entries() -> None:
    limits = ArchiveLimits(max_entries=5)
    assert len(unpack(files_tgz({f"f{i}": b"x" for i in range(5)}), limits)) == 5
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(files_tgz({f"f{i}": b"x" for i in range(6)}), limits)
    refused(excinfo, "archive_too_many_entries")


def test_directory_entries_count_towards_max_entries() -> None:
    entries = [(member(f"d{i}", type_=tarfile.DIRTYPE), None) for i in range(10)]
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(tgz(entries), ArchiveLimits(max_entries=5))
    refused(excinfo, "archive_too_many_entries")


def _bounded(func: Any, *args: Any) -> tuple[BaseException, float, int]:
    """Run ``func`` expecting an error; report it, the seconds taken and peak bytes traced."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        func(*args)
    except Exception as exc:  # the caller asserts which error it is
        error: BaseException = exc
    else:
        pytest.fail("expected an error")
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return error, elapsed, peak


def test_gzip_bomb_of_zeros_is_stopped_early() -> None:
    bomb = b"".join(gzip_zeros(b"", 2 * GiB))  # 2 GiB once inflated
    assert len(bomb) < 4 * MiB
    error, elapsed, peak = _bounded(unpack, bomb)
    assert isinstance(error, InvalidPackage)
    assert error.code == "archive_too_large_uncompressed"
    # Stopped after the ~52 MiB budget (a fortieth of the bomb), holding only small buffers.
    assert elapsed < 5
    assert peak < 8 * MiB


def test_many_members_each_under_the_entry_limit_are_stopped_at_the_total() -> None:
    # Each file passes the entry limit; the running total of declared sizes stops the
    # member that would cross max_total_bytes before its data is inflated.
    limits = ArchiveLimits(max_entry_bytes=1 * MiB, max_total_bytes=2 * MiB)
    stream = b"".join(
        member(f"zeros{i}", 1 * MiB).tobuf(tarfile.USTAR_FORMAT) + bytes(1 * MiB) for i in range(8)
    )
    error, _, _ = _bounded(unpack, gzip.compress(stream, mtime=0), limits)
    assert isinstance(error, InvalidPackage)
    assert error.code == "archive_too_large_uncompressed"
    assert error.detail["limit"] == 2 * MiB


def test_pax_header_lying_about_its_size_is_stopped_by_the_budget() -> None:
    # A PAX extended header claiming 2 GiB of records: tarfile would read it all at once,
    # so only the inflation budget stands in the way.
    header = member("././@PaxHeader", 2 * GiB, tarfile.XHDTYPE).tobuf(tarfile.USTAR_FORMAT)
    bomb = b"".join(gzip_zeros(header, 2 * GiB))
    limits = ArchiveLimits(max_total_bytes=1 * MiB, max_entries=10)
    error, elapsed, peak = _bounded(unpack, bomb, limits)
    assert isinstance(error, InvalidPackage)
    assert error.code == "archive_too_large_uncompressed"
    assert elapsed < 5
    assert peak < 16 * MiB


def test_errors_are_invalid_package_422() -> None:
    with pytest.raises(InvalidPackage) as excinfo:
        unpack(b"nope")
    assert excinfo.value.status_code == 422


# --------------------------------------------------------------------------------------------
# YAML
# --------------------------------------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("c", id="c-loader"),
        pytest.param("python", id="python-loader"),
    ]
)
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a YAML test with the libyaml-based loader and with the pure-Python fallback."""
    if request.param == "c":
        if not hasattr(yaml, "CSafeLoader"):
            pytest.skip("PyYAML built without libyaml")
        assert archive._Loader.__name__ == "_CStrictLoader"
    else:
        monkeypatch.setattr(archive, "_Loader", archive._PyStrictLoader)
    return str(request.param)


def test_yaml_loads_plain_documents(loader: str) -> None:
    text = (
        "name: demo\n"
        "tags: [a, b]\n"
        "hardware:\n"
        "  default: cpu\n"
        "  variants:\n"
        "    cpu: {resources: {cpu: '2', memory: 8Gi}}\n"
        "when: 2024-01-02\n"
        "merge: {<<: {a: 1}, b: 2}\n"
    )
    assert load_yaml(text.encode(), filename="hub.yaml") == yaml.safe_load(text)


def test_yaml_bom_is_stripped(loader: str) -> None:
    assert load_yaml(b"\xef\xbb\xbfname: x\n", filename="hub.yaml") == {"name": "x"}


def test_yaml_empty_document_is_none(loader: str) -> None:
    assert load_yaml(b"", filename="hub.yaml") is None


BILLION_LAUGHS = b"""\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

MERGE_BOMB = b"""\
a: &a {k0: 0, k1: 1, k2: 2, k3: 3, k4: 4, k5: 5, k6: 6, k7: 7, k8: 8, k9: 9}
b: &b {<<: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]}
c: &c {<<: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]}
d: &d {<<: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]}
e: &e {<<: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]}
f: &f {<<: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]}
"""


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(BILLION_LAUGHS, id="billion-laughs"),
        pytest.param(MERGE_BOMB, id="merge-bomb"),
        pytest.param(b"a: &x 1\nb: *x\n", id="alias"),
        pytest.param(b"a: &unused 1\n", id="anchor-alone"),
    ],
)
def test_yaml_aliases_refused(loader: str, text: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(InvalidPackage) as excinfo:
        load_yaml(text, filename="component.yaml")
    assert time.perf_counter() - started < 1
    refused(excinfo, "yaml_aliases", "component.yaml")
    assert excinfo.value.detail["line"] == 1


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param(b"name: a\nversion: 1\nname: b\n", 3, id="top-level"),
        pytest.param(b"hardware:\n  variants:\n    cpu: {}\n    cpu: {}\n", 4, id="nested"),
        pytest.param(b"a: {x: 1, x: 2}\n", 1, id="flow"),
        pytest.param(b"1: a\n1.0: b\n", 2, id="equal-values"),
    ],
)
def test_yaml_duplicate_key(loader: str, text: bytes, line: int) -> None:
    with pytest.raises(InvalidPackage) as excinfo:
        load_yaml(text, filename="hub.yaml")
    refused(excinfo, "yaml_duplicate_key", "hub.yaml")
    assert excinfo.value.detail["line"] == line


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("name: café\n".encode("latin-1"), id="latin-1"),
        pytest.param("name: x\n".encode("utf-16"), id="utf-16"),
        pytest.param(b"name: \xed\xa0\x80\n", id="surrogate"),
    ],
)
def test_yaml_not_utf8(loader: str, data: bytes) -> None:
    with pytest.raises(InvalidPackage) as excinfo:
        load_yaml(data, filename="hub.yaml")
    refused(excinfo, "invalid_encoding", "hub.yaml")


def test_yaml_too_large(loader: str) -> None:
    limits = ArchiveLimits(max_yaml_bytes=100)
    assert load_yaml(b"a: " + b"x" * 97, filename="hub.yaml", limits=limits) == {"a": "x" * 97}
    with pytest.raises(InvalidPackage) as excinfo:
        load_yaml(b"a: " + b"x" * 98, filename="hub.yaml", limits=limits)
    refused(excinfo, "yaml_too_large", "hub.yaml")


def test_yaml_syntax_error_has_line_and_column(loader: str) -> None:
    with pytest.raises(InvalidPackage) as excinfo:
        load_yaml(b"name: x\ntags: [a, b\nversion: 1\n", filename="hub.yaml")
    refused(excinfo, "invalid_yaml", "hub.yaml")
    assert excinfo.value.detail["line"] >= 2
    assert excinfo.value.detail["column"] >= 1
    assert "line" in excinfo.value.message


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(b"!!python/object/apply:os.system ['true']\n", id="python-tag"),
        pytest.param(b"a: 1\n---\nb: 2\n", id="two-documents"),
        pytest.param(b"n: " + b"9" * 5000 + b"\n", id="huge-int"),
        pytest.param(b"d: 2024-13-45\n", id="impossible-date"),
        pytest.param(b"a: b: c\n", id="mapping-in-scalar"),
    ],
)
def test_invalid_yaml(loader: str, text: bytes) -> None:
    with pytest.raises(InvalidPackage) as excinfo:
        load_yaml(text, filename="component.yaml")
    refused(excinfo, "invalid_yaml", "component.yaml")


def test_yaml_too_deep(loader: str) -> None:
    assert load_yaml(b"[" * 50 + b"]" * 50, filename="x.yaml") is not None
    with pytest.raises(InvalidPackage) as excinfo:
        load_yaml(b"[" * 5000 + b"]" * 5000, filename="x.yaml")
    refused(excinfo, "yaml_too_deep", "x.yaml")


def test_kfp_compiled_component_loads(tmp_path: Path, loader: str) -> None:
    pytest.importorskip("kfp")
    from kfp import compiler, dsl

    @dsl.component(base_image="python:3.11-slim")  # type: ignore[untyped-decorator]
    def add(a: float, b: float = 2.0) -> float:
        return a + b

    target = tmp_path / "component.yaml"
    compiler.Compiler().compile(add, str(target))
    data = target.read_bytes()
    loaded = load_yaml(data, filename="component.yaml")
    assert loaded == yaml.safe_load(data)
    assert "deploymentSpec" in loaded
    assert "comp-add" in loaded["components"]


# --------------------------------------------------------------------------------------------
# read_text
# --------------------------------------------------------------------------------------------


def test_read_text() -> None:
    files = {"README.md": "\ufeff# Démo\n".encode(), "bad.md": b"\xff\xfe"}
    assert read_text(files, "README.md") == "# Démo\n"
    with pytest.raises(InvalidPackage) as excinfo:
        read_text(files, "bad.md")
    refused(excinfo, "invalid_encoding", "bad.md")
    with pytest.raises(InvalidPackage) as excinfo:
        read_text(files, "missing.md")
    refused(excinfo, "missing_file", "missing.md")


def test_digest_is_sha256_of_bytes() -> None:
    assert digest(b"") == (
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_pack_keeps_executable_bit_of_owner_only(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "pkg")
    script = folder / "component.py"
    script.chmod(stat.S_IRUSR | stat.S_IWUSR | stat.S_IXGRP | stat.S_IXOTH)
    with tarfile.open(fileobj=io.BytesIO(pack(folder)), mode="r:gz") as tar:
        assert tar.getmember("component.py").mode == 0o644


def test_pack_result_unpacks_with_default_limits_after_copy(tmp_path: Path) -> None:
    folder = make_package(tmp_path / "pkg")
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    assert unpack(pack(copy)) == unpack(pack(folder))
