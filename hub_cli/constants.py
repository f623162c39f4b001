"""Every environment variable and configuration file the client reads, read here and nowhere else.

Precedence, highest first:

========================  =====================================================================
what                      where it comes from
========================  =====================================================================
hub URL                   ``HUB_URL``, else ``url`` in the config file, else
                          ``http://127.0.0.1:8000``
token                     ``HUB_TOKEN``, else ``token`` in the config file, else none
config file               ``$XDG_CONFIG_HOME/hub/config.toml``, else ``~/.config/hub/config.toml``
cache                     ``HUB_CACHE_DIR``, else ``$XDG_CACHE_HOME/hub``, else ``~/.cache/hub``
offline mode              ``HUB_OFFLINE=1``: never contact the hub, use the cache only
retries                   ``HUB_MAX_RETRIES`` (default 3) for idempotent requests
accelerator model label   ``HUB_ACCELERATOR_LABEL`` (default ``cloud.google.com/gke-accelerator``):
                          the node label a variant's ``accelerator.model`` is matched against
debug                     ``HUB_DEBUG=1``: the CLI shows tracebacks (same as ``--debug``)
========================  =====================================================================

Values are read when they are asked for, not at import time, so a long-lived process (or a
test) sees the environment as it is now.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hub_cli.errors import ConfigError

__all__ = [
    "DEFAULT_ACCELERATOR_LABEL",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_URL",
    "LOCKFILE_NAME",
    "ClientConfig",
    "accelerator_label",
    "cache_dir",
    "config_path",
    "debug_enabled",
    "forget_token",
    "load_config",
    "max_retries",
    "offline",
    "save_config",
]

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_MAX_RETRIES = 3
DEFAULT_ACCELERATOR_LABEL = "cloud.google.com/gke-accelerator"
LOCKFILE_NAME = "hub.lock"

ENV_URL = "HUB_URL"
ENV_TOKEN = "HUB_TOKEN"  # noqa: S105 - the name of a variable, not a secret
ENV_CACHE_DIR = "HUB_CACHE_DIR"
ENV_OFFLINE = "HUB_OFFLINE"
ENV_MAX_RETRIES = "HUB_MAX_RETRIES"
ENV_ACCELERATOR_LABEL = "HUB_ACCELERATOR_LABEL"
ENV_DEBUG = "HUB_DEBUG"

_TRUE = {"1", "true", "yes", "on"}

Source = Literal["argument", "environment", "config file", "default"]


@dataclass(frozen=True)
class ClientConfig:
    """Where the client talks to and with which token, and where each value came from.

    Attributes:
        url: The hub's base URL, without a trailing slash.
        token: The bearer token, or None for anonymous reads.
        url_source: Where ``url`` came from.
        token_source: Where ``token`` came from (``default`` when there is none).
        config_file: The config file consulted (it may not exist).
    """

    url: str
    token: str | None
    url_source: Source
    token_source: Source
    config_file: Path

    @property
    def token_from_environment(self) -> bool:
        """Whether ``HUB_TOKEN`` supplied the token (and so overrides the config file)."""
        return self.token_source == "environment"  # noqa: S105 - a source, not a secret


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _home() -> Path:
    return Path(os.path.expanduser("~"))


def config_path() -> Path:
    """The config file: ``$XDG_CONFIG_HOME/hub/config.toml`` or ``~/.config/hub/config.toml``.

    Returns:
        Its path (the file may not exist).
    """
    base = _env("XDG_CONFIG_HOME")
    return (Path(base) if base else _home() / ".config") / "hub" / "config.toml"


def cache_dir() -> Path:
    """The cache root: ``HUB_CACHE_DIR``, ``$XDG_CACHE_HOME/hub`` or ``~/.cache/hub``.

    Returns:
        Its path (it may not exist yet).
    """
    explicit = _env(ENV_CACHE_DIR)
    if explicit:
        return Path(explicit).expanduser()
    base = _env("XDG_CACHE_HOME")
    return (Path(base) if base else _home() / ".cache") / "hub"


def offline() -> bool:
    """Whether ``HUB_OFFLINE`` asks never to contact the hub."""
    return (_env(ENV_OFFLINE) or "").lower() in _TRUE


def debug_enabled() -> bool:
    """Whether ``HUB_DEBUG`` asks the CLI for tracebacks."""
    return (_env(ENV_DEBUG) or "").lower() in _TRUE


def max_retries() -> int:
    """How often an idempotent request is retried after a connection error or a 5xx.

    Returns:
        ``HUB_MAX_RETRIES`` or 3.

    Raises:
        ConfigError: ``HUB_MAX_RETRIES`` is not a non-negative integer.
    """
    raw = _env(ENV_MAX_RETRIES)
    if raw is None:
        return DEFAULT_MAX_RETRIES
    if not raw.isdigit():
        raise ConfigError(f"{ENV_MAX_RETRIES}={raw!r} is not a non-negative integer")
    return int(raw)


def accelerator_label() -> str:
    """The node label that a variant's ``accelerator.model`` selects nodes by."""
    return _env(ENV_ACCELERATOR_LABEL) or DEFAULT_ACCELERATOR_LABEL


def _read_config_file(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    try:
        document = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from None
    values: dict[str, str] = {}
    for key in ("url", "token"):
        value = document.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ConfigError(f"the config file {path}: {key!r} must be a string")
        if value.strip():
            values[key] = value.strip()
    return values


def load_config(url: str | None = None, token: str | None = None) -> ClientConfig:
    """Resolve the hub URL and token: arguments, then environment, then config file, then default.

    Args:
        url: An explicit URL (wins over everything).
        token: An explicit token (wins over everything).

    Returns:
        The resolved configuration.

    Raises:
        ConfigError: the config file exists but cannot be read or parsed.
    """
    path = config_path()
    file_values: dict[str, str] | None = None

    def from_file(key: str) -> str | None:
        nonlocal file_values
        if file_values is None:
            file_values = _read_config_file(path)
        return file_values.get(key)

    url_source: Source
    resolved_url: str
    if url:
        resolved_url, url_source = url, "argument"
    elif env_url := _env(ENV_URL):
        resolved_url, url_source = env_url, "environment"
    elif file_url := from_file("url"):
        resolved_url, url_source = file_url, "config file"
    else:
        resolved_url, url_source = DEFAULT_URL, "default"

    token_source: Source
    resolved_token: str | None
    if token:
        resolved_token, token_source = token, "argument"
    elif env_token := _env(ENV_TOKEN):
        resolved_token, token_source = env_token, "environment"
    elif file_token := from_file("token"):
        resolved_token, token_source = file_token, "config file"
    else:
        resolved_token, token_source = None, "default"

    return ClientConfig(
        url=resolved_url.rstrip("/"),
        token=resolved_token,
        url_source=url_source,
        token_source=token_source,
        config_file=path,
    )


def _toml_string(value: str) -> str:
    # JSON string escapes are a subset of TOML basic-string escapes as long as non-ASCII
    # characters stay literal (JSON would write astral ones as surrogate pairs, TOML refuses).
    return json.dumps(value, ensure_ascii=False)


def save_config(*, url: str, token: str | None) -> Path:
    """Write the config file (mode 0600, in a 0700 directory), replacing it atomically.

    Args:
        url: The hub URL to store.
        token: The token to store, or None to store none.

    Returns:
        The config file's path.

    Raises:
        ConfigError: the file cannot be written.
    """
    path = config_path()
    lines = [
        "# Written by `hub login`. HUB_URL and HUB_TOKEN, when set, take precedence.",
        f"url = {_toml_string(url.rstrip('/'))}",
    ]
    if token:
        lines.append(f"token = {_toml_string(token)}")
    text = "\n".join(lines) + "\n"
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise ConfigError(f"cannot write the config file {path}: {exc.strerror or exc}") from None
    return path


def forget_token() -> Path | None:
    """Remove the token from the config file, keeping its URL.

    Returns:
        The config file's path, or None when there is no config file.

    Raises:
        ConfigError: the file cannot be read or written.
    """
    path = config_path()
    if not path.is_file():
        return None
    values = _read_config_file(path)
    return save_config(url=values.get("url", DEFAULT_URL), token=None)
