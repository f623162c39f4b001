"""Configuration (constants) and references: read in one place, with a clear precedence."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest

from hub_cli import constants
from hub_cli.errors import ConfigError, InvalidReferenceError
from hub_cli.reference import NAME_PATTERN, NAMESPACE_PATTERN, Reference, SpecKind
from hub_server import manifest


def test_defaults_with_nothing_configured(home: Path) -> None:
    config = constants.load_config()

    assert config.url == "http://127.0.0.1:8000"
    assert config.url_source == "default"
    assert config.token is None
    assert config.config_file == home / ".config" / "hub" / "config.toml"
    assert constants.cache_dir() == home / ".cache" / "hub"
    assert not constants.offline()


def test_environment_beats_the_config_file_which_beats_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = constants.save_config(url="http://file.example:8000/", token="hub_from-file")

    from_file = constants.load_config()
    monkeypatch.setenv("HUB_URL", "http://env.example:9000")
    monkeypatch.setenv("HUB_TOKEN", "hub_from-env")
    from_env = constants.load_config()
    explicit = constants.load_config(url="http://arg.example", token="hub_arg")

    assert (from_file.url, from_file.token) == ("http://file.example:8000", "hub_from-file")
    assert from_file.url_source == from_file.token_source == "config file"
    assert (from_env.url, from_env.token) == ("http://env.example:9000", "hub_from-env")
    assert from_env.token_from_environment
    assert (explicit.url, explicit.token) == ("http://arg.example", "hub_arg")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text())["url"] == "http://file.example:8000"


def test_xdg_folders_and_hub_cache_dir_are_respected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    assert constants.config_path() == tmp_path / "cfg" / "hub" / "config.toml"
    assert constants.cache_dir() == tmp_path / "xdg-cache" / "hub"

    monkeypatch.setenv("HUB_CACHE_DIR", str(tmp_path / "mine"))
    assert constants.cache_dir() == tmp_path / "mine"

    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert constants.config_path() == Path.home() / ".config" / "hub" / "config.toml"


def test_forget_token_keeps_the_url() -> None:
    constants.save_config(url="http://hub.example", token="hub_secret")

    constants.forget_token()

    config = constants.load_config()
    assert (config.url, config.token) == ("http://hub.example", None)


def test_a_broken_config_file_is_a_clear_error() -> None:
    path = constants.config_path()
    path.parent.mkdir(parents=True)
    path.write_text("url = http://no-quotes\n")

    with pytest.raises(ConfigError, match=r"config.toml is not valid TOML"):
        constants.load_config()


def test_bad_retry_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MAX_RETRIES", "lots")

    with pytest.raises(ConfigError, match="HUB_MAX_RETRIES"):
        constants.max_retries()


def test_strings_survive_the_toml_writer() -> None:
    token = 'hub_"quoted"\\back\u00e9\U0001f600'

    constants.save_config(url="http://hub.example", token=token)

    assert constants.load_config().token == token


@pytest.mark.parametrize(
    ("text", "kind", "spec"),
    [
        ("alice/train", SpecKind.LATEST, ""),
        ("alice/train@1.2.3", SpecKind.EXACT, "1.2.3"),
        ("alice/train@1.2.3-rc.1+build.5", SpecKind.EXACT, "1.2.3-rc.1+build.5"),
        ("alice/train@^1.2", SpecKind.RANGE, "^1.2"),
        ("alice/train@>=1.0 <2 || 3.x", SpecKind.RANGE, ">=1.0 <2 || 3.x"),
        ("alice/train@1.2", SpecKind.RANGE, "1.2"),
        ("alice/train@sha256:" + "a" * 64, SpecKind.DIGEST, "sha256:" + "a" * 64),
    ],
)
def test_references_parse(text: str, kind: SpecKind, spec: str) -> None:
    ref = Reference.parse(text)

    assert (ref.namespace, ref.name, ref.kind, ref.spec) == ("alice", "train", kind, spec)
    assert str(ref) == text


@pytest.mark.parametrize(
    "text",
    ["train", "/train", "alice/", "Alice/train", "alice/train@", "alice/tr ain", "a/b@sha256:12"],
)
def test_malformed_references_are_refused(text: str) -> None:
    with pytest.raises(InvalidReferenceError):
        Reference.parse(text)


def test_reference_patterns_match_the_manifest_model() -> None:
    assert manifest.NAMESPACE_PATTERN == NAMESPACE_PATTERN
    assert manifest.NAME_PATTERN == NAME_PATTERN
