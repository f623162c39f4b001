"""The hub commands, in-process against the real app: tables for people, --json for scripts."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub_cli import constants
from hub_cli.cache import Cache
from tests.cli.conftest import Cli, Publish, assert_one_error_line, token_of
from tests.conftest import ADMIN_TOKEN


@pytest.fixture
def as_alice(monkeypatch: pytest.MonkeyPatch, alice_token: str) -> str:
    monkeypatch.setenv("HUB_TOKEN", alice_token)
    return alice_token


def test_help_and_version(cli: Cli) -> None:
    help_text = cli("--help")
    version = cli("--version")

    assert help_text.exit_code == 0
    for command in [
        "serve",
        "login",
        "whoami",
        "init",
        "validate",
        "build",
        "publish",
        "fork",
        "pull",
        "search",
        "info",
        "versions",
        "yank",
        "lock",
    ]:
        assert f"  {command} " in help_text.stdout
    assert version.stdout.strip() == "hub 0.1.0"


def test_serve_keeps_its_options(cli: Cli) -> None:
    result = cli("serve", "--help")

    assert result.exit_code == 0
    for option in ("--host", "--port", "--data-dir", "--workers"):
        assert option in result.stdout


def test_login_checks_the_token_then_saves_it(cli: Cli, alice_token: str) -> None:
    result = cli("login", "--url", "http://testserver", "--token", alice_token)
    whoami = cli("whoami", "--json")

    assert result.exit_code == 0, result.stderr
    assert "Logged in to http://testserver as alice" in result.stdout
    saved = tomllib.loads(constants.config_path().read_text())
    assert saved == {"url": "http://testserver", "token": alice_token}
    assert json.loads(whoami.stdout) == {
        "name": "alice",
        "is_admin": False,
        "namespaces": ["alice"],
        "hub": "http://testserver",
    }


def test_login_asks_for_the_token_without_echoing_it(cli: Cli, alice_token: str) -> None:
    result = cli("login", "--url", "http://testserver", input=alice_token + "\n")

    assert result.exit_code == 0, result.stderr
    assert alice_token not in result.stdout
    assert constants.load_config().token == alice_token


def test_a_bad_token_is_not_saved(cli: Cli) -> None:
    result = cli("login", "--url", "http://testserver", "--token", "hub_wrong")

    assert_one_error_line(result, 1, "does not accept your token", "hub login")
    assert not constants.config_path().exists()


def test_logout_forgets_the_token(cli: Cli, alice_token: str) -> None:
    cli("login", "--url", "http://testserver", "--token", alice_token)

    result = cli("logout")
    whoami = cli("whoami")

    assert result.exit_code == 0
    assert constants.load_config().token is None
    assert_one_error_line(whoami, 1, "this needs a token: run `hub login`")


def test_search_table_and_json(cli: Cli, published: Publish) -> None:
    table = cli("search", "train", "--hardware", "gpu", "--tag", "xgboost")
    as_json = cli("search", "--json", "--category", "training")
    nothing = cli("search", "no-such-thing")

    assert table.exit_code == 0, table.stderr
    assert "alice/train" in table.stdout
    assert "1.1.0" in table.stdout
    assert "cpu, gpu" in table.stdout
    assert "1-1 of 1 components" in table.stdout
    page = json.loads(as_json.stdout)
    assert page["total"] == 1
    assert page["items"][0]["latest_version"] == "1.1.0"
    assert nothing.stdout.strip() == "No components match."


def test_info_shows_hardware_and_interface(cli: Cli, published: Publish) -> None:
    result = cli("info", "alice/train")
    exact = cli("info", "alice/train@~1.0", "--json")

    assert result.exit_code == 0, result.stderr
    for text in (
        "alice/train",
        "1.1.0",
        "cpu (default)",
        "1 x nvidia.com/gpu (nvidia-tesla-t4)",
        "device=cuda",
        "epochs",
        "passes over the data",
    ):
        assert text in result.stdout, text
    body = json.loads(exact.stdout)
    assert body["version"]["version"] == "1.0.0"
    assert body["component"]["namespace"] == "alice"


def test_versions_flags_yanked_and_prereleases(cli: Cli, published: Publish, as_alice: str) -> None:
    yanked = cli("yank", "alice/train@1.0.0", "--reason", "wrong labels")
    table = cli("versions", "alice/train")
    as_json = json.loads(cli("versions", "alice/train", "--json").stdout)
    undo = cli("yank", "alice/train@1.0.0", "--undo")

    assert yanked.exit_code == 0, yanked.stderr
    assert "Yanked alice/train@1.0.0" in yanked.stdout
    assert "yanked: wrong labels" in table.stdout
    assert "prerelease" in table.stdout
    assert [v["version"] for v in as_json] == ["2.0.0-rc.1", "1.1.0", "1.0.0"]
    assert as_json[2]["yanked"] is True
    assert undo.exit_code == 0
    assert "Un-yanked" in undo.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("yank", "alice/train@^1", "--reason", "x"), "name one exact version"),
        (("yank", "alice/train@1.0.0"), "say why with --reason"),
        (("yank", "alice/train@1.0.0", "--reason", "x", "--undo"), "not both"),
    ],
)
def test_yank_usage_errors(cli: Cli, args: tuple[str, ...], needle: str) -> None:
    assert_one_error_line(cli(*args), 2, needle, "(see `hub yank --help`)")


def test_fork_into_another_namespace(
    cli: Cli, published: Publish, monkeypatch: pytest.MonkeyPatch, bob: dict[str, str]
) -> None:
    monkeypatch.setenv("HUB_TOKEN", token_of(bob))

    everything = cli("fork", "alice/train", "bob")
    one = cli("fork", "alice/train@1.0.0", "bob/train-v1", "--json")
    into_alice = cli("fork", "alice/train", "alice/copy")

    assert everything.exit_code == 0, everything.stderr
    assert "Forked alice/train -> bob/train (3 versions; parent alice/train@1.1.0)" in (
        everything.stdout
    )
    assert json.loads(one.stdout)["parent"]["ref"] == "alice/train@1.0.0"
    assert_one_error_line(into_alice, 1, "not allowed")


def test_pull_into_the_cache_and_a_folder(cli: Cli, published: Publish, tmp_path: Path) -> None:
    target = tmp_path / "copy"

    first = cli("pull", "alice/train@^1", "--to", str(target))
    again = cli("pull", "alice/train@1.1.0", "--json")

    assert first.exit_code == 0, first.stderr
    assert "Pulled alice/train@1.1.0 (downloaded)" in first.stdout
    assert (target / "hub.yaml").is_file()
    assert (target / "component.yaml").is_file()
    body = json.loads(again.stdout)
    assert body["source"] == "cache"
    assert Path(body["snapshot"], "README.md").is_file()
    assert Path(body["archive"]) == Cache().blob_path(body["digest"])


def test_pull_refuses_a_folder_with_things_in_it(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")

    result = cli("pull", "alice/train", "--to", str(tmp_path / "busy"))

    assert_one_error_line(result, 2, "not an empty folder")


def test_lock_writes_exact_versions_and_digests(
    cli: Cli, published: Publish, client: TestClient
) -> None:
    first = cli("lock", "alice/train@~1.0", "--json")
    digest = client.get("/api/v1/components/alice/train/versions/1.0.0").json()["digest"]
    relock = cli("lock", "alice/train@^1", "--pull")

    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["components"] == [
        {"request": "alice/train@~1.0", "name": "alice/train", "version": "1.0.0", "digest": digest}
    ]
    assert relock.exit_code == 0, relock.stderr
    lock = tomllib.loads(Path("hub.lock").read_text())
    assert lock["requests"] == ["alice/train@~1.0", "alice/train@^1"]
    assert [c["version"] for c in lock["component"]] == ["1.0.0", "1.1.0"]
    assert all(Cache().has_blob(c["digest"]) for c in lock["component"]), "--pull fetched them"
    assert cli("lock").exit_code == 0, "the requests in hub.lock are locked again"


def test_lock_with_nothing_to_lock_is_a_usage_error(cli: Cli) -> None:
    assert_one_error_line(cli("lock"), 2, "nothing to lock")


def test_pull_follows_hub_lock(cli: Cli, published: Publish) -> None:
    cli("lock", "alice/train@~1.0")

    locked = cli("pull", "alice/train@~1.0")
    ignored = cli("pull", "alice/train@^1", "--no-lock")

    assert "Pulled alice/train@1.0.0" in locked.stdout
    assert "Pulled alice/train@1.1.0" in ignored.stdout


# ------------------------------------------------------------------ bad input, one line each


def test_unknown_component_version_and_range(cli: Cli, published: Publish) -> None:
    assert_one_error_line(cli("info", "alice/nothing"), 1, "no component alice/nothing")
    assert_one_error_line(cli("pull", "alice/train@3.0.0"), 1, "has no version 3.0.0")
    assert_one_error_line(
        cli("pull", "alice/train@^5"), 1, "no version of alice/train satisfies '^5'"
    )
    assert_one_error_line(cli("versions", "bob/train"), 1, "no component bob/train")


def test_malformed_references_are_usage_errors(cli: Cli) -> None:
    assert_one_error_line(cli("pull", "train"), 2, "is not a component reference")
    assert_one_error_line(cli("info", "alice/train@>>1"), 2, "neither a version nor")


def test_a_wrong_url_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("hub_cli.commands._context.http_client_factory", lambda: None)
    monkeypatch.setenv("HUB_URL", "127.0.0.1:8000")

    assert_one_error_line(cli("search"), 1, "is not a hub URL", "HUB_URL")


def test_a_corrupt_config_file_is_one_line(cli: Cli) -> None:
    path = constants.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("token = [\n")

    assert_one_error_line(cli("whoami"), 1, "is not valid TOML")


def test_a_corrupt_cache_is_one_line(cli: Cli, published: Publish) -> None:
    cli("pull", "alice/train@1.0.0")
    digest = json.loads(cli("pull", "alice/train@1.0.0", "--json").stdout)["digest"]
    Cache().blob_path(digest).write_bytes(b"garbage")

    assert_one_error_line(cli("pull", "alice/train@1.0.0"), 1, "is corrupt", "delete it")


def test_debug_shows_the_traceback(cli: Cli) -> None:
    result = cli("--debug", "info", "alice/nothing")

    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: no component")


def test_the_admin_sees_every_namespace(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_TOKEN", ADMIN_TOKEN)

    result = cli("whoami")

    assert result.stdout.startswith("admin (administrator) on http://testserver")
