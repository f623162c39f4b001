"""The package checker: each worker validates uploaded packages in a helper process.

A publish's validation (:func:`hub_server.packages.validate_package`: unpack the archive, read
its YAML, have kfp load the spec) is pure CPU, a quarter of a publish's time in the worker,
and it runs third-party parsers on untrusted input. In a helper process it runs on another
core while the worker goes on with the rest (the database, other requests), and a package
that makes a parser run away costs a killed helper, not a worker:

- one helper per worker, started with the app (``hub serve``'s ``--workers`` each have one),
  importing only :mod:`hub_server.packages` (~32 MiB);
- requests and answers are length-prefixed pickles over the helper's stdin and stdout, one at
  a time (a lock): the archive's bytes go in; the validated package (without those bytes) or
  the refusal comes back;
- an answer later than ``timeout`` seconds kills the helper and refuses the package
  (``validation_timeout``); a helper that dies is started again for the next package, and the
  package it died on gets a 503 (``validator_unavailable``).

Measured at 100k components, one worker, 32 connections, PostgreSQL, alternated runs: publish
86 and 93 versions/s validating in the worker, 99 and 98 with the checker in a helper (the
worker had used a whole core, PostgreSQL a sixth of one).

Run as ``python -m hub_server.validator``: the helper's loop, reading stdin until it closes.
"""

from __future__ import annotations

import logging
import os
import pickle
import select
import struct
import subprocess
import sys
import threading
import time
from dataclasses import replace
from typing import IO, Any

from hub_server import errors
from hub_server.archive import ArchiveLimits
from hub_server.errors import HubError, InvalidPackage, Unavailable
from hub_server.packages import ValidatedPackage, validate_package

log = logging.getLogger("hub.validator")

_LENGTH = struct.Struct("!I")


# ----------------------------------------------------------------------------- the helper


def _read_message(stream: IO[bytes]) -> Any | None:
    header = stream.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None  # the worker closed our stdin: it is gone or stopping
    (size,) = _LENGTH.unpack(header)
    return pickle.loads(stream.read(size))  # noqa: S301 - from our own worker, over a pipe


def _write_message(stream: IO[bytes], message: Any) -> None:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(body)) + body)
    stream.flush()


def serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """Answer validation requests ``(data, namespace, name, limits)`` until stdin closes.

    Answers are ``("ok", package)`` (its ``data`` left out: the worker has it),
    ``("refused", error class name, message, code, detail)`` for a package the checks refuse,
    and ``("failed", description)`` for anything else (a bug, not the package).
    """
    while (request := _read_message(stdin)) is not None:
        data, namespace, name, limits = request
        answer: tuple[Any, ...]
        try:
            package = validate_package(data, namespace=namespace, name=name, limits=limits)
            answer = ("ok", replace(package, data=b""))
        except HubError as exc:
            answer = ("refused", type(exc).__name__, exc.message, exc.code, exc.detail)
        except Exception as exc:  # a bug, not the package: the worker raises it
            answer = ("failed", f"{type(exc).__name__}: {exc}")
        _write_message(stdout, answer)


def main() -> None:
    # The answers keep file descriptor 1 to themselves: anything else written to stdout (a
    # print in a library) goes to stderr, the worker's log, not into the stream of answers.
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, answers)


# ----------------------------------------------------------------------------- the worker's side


def _read_exactly(fd: int, size: int, deadline: float) -> bytes:
    """``size`` bytes from ``fd``; TimeoutError past ``deadline``, EOFError if it ends first."""
    chunks: list[bytes] = []
    while size:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


class PackageChecker:
    """A worker's handle on its helper process: :meth:`validate` is
    :func:`~hub_server.packages.validate_package`, answered by the helper.

    Called from the worker's threads (the publish steps run in the thread pool); one package
    at a time, the others wait on a lock. The thread waiting for an answer holds no GIL.
    """

    def __init__(self, *, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the helper (if it is not running)."""
        with self._lock:
            self._ensure_started()

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is not None:
            self._stop(self._process)  # it died since: its pipes are closed, a new one starts
        if self._process is None:
            # kfp's lean runtime import (see hub_server.kfp_spec), as the workers have it.
            env = {**os.environ, "_KFP_RUNTIME": "true"}
            self._process = subprocess.Popen(
                [sys.executable, "-m", "hub_server.validator"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
        return self._process

    def validate(
        self, data: bytes, *, namespace: str, name: str, limits: ArchiveLimits
    ) -> ValidatedPackage:
        """Validate a package in the helper.

        Raises:
            InvalidPackage / PayloadTooLarge: as :func:`validate_package` does;
                ``validation_timeout`` when the helper took longer than ``timeout``.
            Unavailable: ``validator_unavailable``, the helper ended while checking it.
        """
        with self._lock:
            process = self._ensure_started()
            try:
                assert process.stdin is not None
                assert process.stdout is not None
                _write_message(process.stdin, (data, namespace, name, limits))
                answer = self._answer(process.stdout, time.monotonic() + self.timeout)
            except TimeoutError:
                self._stop(process)
                raise InvalidPackage(
                    f"the package could not be checked within {self.timeout:g} seconds",
                    code="validation_timeout",
                    limit_seconds=self.timeout,
                ) from None
            except (OSError, EOFError, pickle.UnpicklingError):
                self._stop(process)
                log.error(
                    "the package checker stopped (exit code %s); it starts again",
                    process.returncode,
                )
                raise Unavailable(
                    "the package checker stopped while checking this package; try again",
                    code="validator_unavailable",
                ) from None
        kind, *rest = answer
        if kind == "ok":
            package: ValidatedPackage = rest[0]
            return replace(package, data=data)
        if kind == "refused":
            class_name, message, code, detail = rest
            error = getattr(errors, class_name, None)
            if isinstance(error, type) and issubclass(error, HubError):
                raise error(message, code=code, **detail)
        raise RuntimeError(f"the package checker failed: {rest[0]}")

    @staticmethod
    def _answer(stdout: IO[bytes], deadline: float) -> Any:
        """Read one answer, waiting at most until ``deadline``."""
        fd = stdout.fileno()
        (size,) = _LENGTH.unpack(_read_exactly(fd, _LENGTH.size, deadline))
        return pickle.loads(_read_exactly(fd, size, deadline))  # noqa: S301 - our own helper's

    def _stop(self, process: subprocess.Popen[bytes]) -> None:
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        if self._process is process:
            self._process = None

    def close(self) -> None:
        """Stop the helper: its stdin closes and it exits; killed if it does not."""
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


if __name__ == "__main__":
    main()
