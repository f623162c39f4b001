"""The package checker: packages validated in a helper process (hub_server.validator)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub_server.app import create_app
from hub_server.archive import ArchiveLimits
from hub_server.errors import InvalidPackage, Unavailable
from hub_server.packages import validate_package
from hub_server.settings import Settings
from hub_server.validator import PackageChecker
from tests.factories import V1_SPEC, pack_package

LIMITS = ArchiveLimits()


@pytest.fixture
def checker() -> Iterator[PackageChecker]:
    checker = PackageChecker()
    try:
        yield checker
    finally:
        checker.close()


def _bad_packages(root: Path) -> dict[str, bytes]:
    return {
        "not an archive": b"not a tar.gz",
        "bad yaml": pack_package(root / "a", spec="name: [unclosed"),
        "kfp refuses the spec": pack_package(root / "b", spec="name: x\nimplementation: 3\n"),
        "no readme": pack_package(root / "c", readme=None),
        "wrong name": pack_package(root / "d", name="other"),
        "yaml aliases": pack_package(root / "e", spec="a: &x [1]\nb: *x\n"),
    }


def test_the_helper_validates_as_the_worker_would(checker: PackageChecker, tmp_path: Path) -> None:
    data = pack_package(tmp_path / "ok", spec=V1_SPEC)

    checked = checker.validate(data, namespace="alice", name="train", limits=LIMITS)

    assert checked == validate_package(data, namespace="alice", name="train", limits=LIMITS)
    for label, bad in _bad_packages(tmp_path).items():
        with pytest.raises(InvalidPackage) as inline:
            validate_package(bad, namespace="alice", name="train", limits=LIMITS)
        with pytest.raises(InvalidPackage) as helped:
            checker.validate(bad, namespace="alice", name="train", limits=LIMITS)
        assert helped.value.to_body() == inline.value.to_body(), label


def test_the_helper_imports_no_database_or_web_stack() -> None:
    """Its memory is what a worker pays for it (~32 MiB): the validation modules only."""
    code = (
        "import sys, hub_server.validator; "
        "print(sorted(m for m in ('sqlalchemy', 'sqlmodel', 'fastapi', 'starlette', "
        "'hub_server.services.components') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_what_else_the_helper_prints_does_not_reach_its_answers(tmp_path: Path) -> None:
    """A library printing to stdout while a package is checked must not corrupt the answer."""
    data = pack_package(tmp_path / "ok", spec=V1_SPEC)
    code = (
        "import builtins, sys\n"
        "import hub_server.packages as packages\n"
        "check = packages.validate_package\n"
        "def noisy(*args, **kwargs):\n"
        "    print('a library talks'); sys.stdout.flush()\n"
        "    return check(*args, **kwargs)\n"
        "packages.validate_package = noisy\n"
        "import hub_server.validator as validator\n"
        "validator.validate_package = noisy\n"
        "validator.main()\n"
    )
    checker = PackageChecker()
    checker._process = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert checker.validate(data, namespace="alice", name="train", limits=LIMITS).version
    finally:
        checker.close()


def test_a_check_that_runs_too_long_is_refused_and_the_helper_restarted(
    checker: PackageChecker, tmp_path: Path
) -> None:
    data = pack_package(tmp_path / "ok", spec=V1_SPEC)
    checker.validate(data, namespace="alice", name="train", limits=LIMITS)
    first = checker._process
    assert first is not None

    checker.timeout = 1e-6
    with pytest.raises(InvalidPackage) as refused:
        checker.validate(data, namespace="alice", name="train", limits=LIMITS)
    assert refused.value.code == "validation_timeout"
    assert first.poll() is not None  # killed

    checker.timeout = 30
    assert checker.validate(data, namespace="alice", name="train", limits=LIMITS).version


def test_a_helper_that_dies_is_started_again(checker: PackageChecker, tmp_path: Path) -> None:
    data = pack_package(tmp_path / "ok", spec=V1_SPEC)
    checker.start()
    assert checker._process is not None
    checker._process.kill()
    checker._process.wait()

    assert checker.validate(data, namespace="alice", name="train", limits=LIMITS).version


def test_a_helper_that_dies_while_checking_is_a_503_for_that_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper ends while it checks (killed, out of memory): that publish is told to try
    again; the next one gets a new helper."""
    checker = PackageChecker()
    checker.start()
    assert checker._process is not None
    # Stand-in for a helper that dies mid-check: its stdout ends before any answer.
    checker._process.stdout.close()  # type: ignore[union-attr]
    read_end, write_end = os.pipe()
    os.close(write_end)
    checker._process.stdout = os.fdopen(read_end, "rb")
    data = pack_package(tmp_path / "ok", spec=V1_SPEC)
    try:
        with pytest.raises(Unavailable) as unavailable:
            checker.validate(data, namespace="alice", name="train", limits=LIMITS)
        assert unavailable.value.code == "validator_unavailable"
        assert checker.validate(data, namespace="alice", name="train", limits=LIMITS).version
    finally:
        checker.close()


def test_publish_through_the_helper(settings: Settings, tmp_path: Path) -> None:
    """The app as ``hub serve`` builds it: its helper starts with it, checks what is
    published (a refusal is the same 422 as in the worker), and stops with it."""
    app = create_app(settings.model_copy(update={"package_checker": "process"}))
    headers = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}  # type: ignore[union-attr]

    def publish(hub: TestClient, data: bytes) -> dict[str, object]:
        answer = hub.post(
            "/api/v1/components/alice/train/versions",
            files={"archive": ("train.tar.gz", data, "application/gzip")},
            headers=headers,
        )
        return {"status": answer.status_code, **answer.json()}

    try:
        with TestClient(app) as hub:
            helper = app.state.hub.checker._process
            assert helper is not None
            assert helper.poll() is None
            published = publish(hub, pack_package(tmp_path / "ok", spec=V1_SPEC))
            refused = publish(hub, pack_package(tmp_path / "bad", spec="name: [unclosed"))
        assert helper.poll() is not None  # stopped with the app
    finally:
        app.state.hub.engine.dispose()

    assert published["status"] == 201
    assert published["version"] == "1.0.0"
    assert refused["status"] == 422
    assert refused["error"]["code"] == "invalid_yaml"  # type: ignore[index]
