"""hub.lock: a deterministic TOML file, read strictly, answering references."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from hub_cli.errors import LockfileError
from hub_cli.lockfile import LockedComponent, Lockfile, find_lockfile
from hub_cli.reference import Reference

DIGEST = "sha256:" + "ab" * 32


def _lock(path: Path) -> Lockfile:
    return Lockfile(
        path=path,
        hub="http://127.0.0.1:8000",
        requests=["alice/train@^1.2", "library/split"],
        components=[
            LockedComponent("alice/train@^1.2", "alice/train", "1.4.0", DIGEST),
            LockedComponent("library/split", "library/split", "0.3.1", DIGEST),
        ],
    )


def test_a_saved_lock_loads_back_equal_and_renders_the_same(tmp_path: Path) -> None:
    lock = _lock(tmp_path / "hub.lock")

    lock.save()
    loaded = Lockfile.load(tmp_path / "hub.lock")

    assert loaded == lock
    assert loaded.render() == lock.render()
    document = tomllib.loads((tmp_path / "hub.lock").read_text())
    assert document["format"] == 1
    assert document["component"][0] == {
        "request": "alice/train@^1.2",
        "name": "alice/train",
        "version": "1.4.0",
        "digest": DIGEST,
    }


def test_find_prefers_the_exact_request_then_a_satisfying_entry(tmp_path: Path) -> None:
    lock = _lock(tmp_path / "hub.lock")

    def found(text: str) -> str | None:
        entry = lock.find(Reference.parse(text))
        return entry.version if entry else None

    assert found("alice/train@^1.2") == "1.4.0"
    assert found("alice/train") == "1.4.0"
    assert found("alice/train@~1.4") == "1.4.0"
    assert found("alice/train@1.4.0") == "1.4.0"
    assert found(f"alice/train@{DIGEST}") == "1.4.0"
    assert found("alice/other@^1") is None
    with pytest.raises(
        LockfileError, match=r"locks alice/train at 1.4.0.*hub lock alice/train@\^2"
    ):
        found("alice/train@^2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("requests = [", "not valid TOML"),
        ("format = 9", "format 9 is not supported"),
        ("requests = ['not a ref']", "request 'not a ref'"),
        ("[[component]]\nname = 'alice/train'", "lacks request, version, digest"),
        (
            f"[[component]]\nrequest='a/b'\nname='a/b'\nversion='1.0.0'\ndigest='{DIGEST[:-1]}'",
            "a digest is sha256: followed by 64",
        ),
        (
            f"[[component]]\nrequest='a/b'\nname='a/b'\nversion='1.0'\ndigest='{DIGEST}'",
            r"component #1 \(a/b\): '1.0' is not a version",
        ),
    ],
)
def test_a_malformed_lock_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "hub.lock"
    path.write_text(text)

    with pytest.raises(LockfileError, match=message):
        Lockfile.load(path)


def test_the_nearest_lockfile_up_the_tree_is_found(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "hub.lock").write_text("requests = []\n")

    assert find_lockfile(tmp_path / "a" / "b") == tmp_path / "a" / "hub.lock"
    assert find_lockfile(tmp_path) is None
