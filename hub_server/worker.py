"""One worker of ``hub serve --workers N``: uvicorn serving the hub's app on the listening
socket that its supervisor (:mod:`hub_server.supervisor`) bound and passed down.

Started as ``python -m hub_server.worker --fd FD --supervisor PID``; the hub's settings are in
the environment (``hub serve`` put them there), and each worker builds its app from them.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import socket
import sys
import threading
import time

from hub_server.logs import configure_logging
from hub_server.serve import UVICORN_OPTIONS, limit_malloc_arenas

_PR_SET_PDEATHSIG = 1  # prctl's option number (linux/prctl.h)
_PARENT_CHECK_SECONDS = 1.0
_STARTUP_FAILURE = 3  # uvicorn's exit code for an app that did not start


def follow_supervisor(supervisor_pid: int) -> None:
    """Make this process end (SIGTERM: uvicorn's graceful shutdown) when its supervisor goes,
    however it goes, SIGKILL included.

    On Linux the kernel sends the signal (``PR_SET_PDEATHSIG``); elsewhere a thread looks at
    the parent's pid every second. A supervisor that died before this call is caught by
    comparing the parent's pid with the one it gave.

    Args:
        supervisor_pid: the pid of the process that started this one.

    Raises:
        SystemExit: the supervisor is already gone.
    """
    if not _ask_kernel_for_sigterm_on_parent_death():
        threading.Thread(
            target=_watch_parent, args=(supervisor_pid,), name="parent-watch", daemon=True
        ).start()
    if os.getppid() != supervisor_pid:
        raise SystemExit(0)


def _ask_kernel_for_sigterm_on_parent_death() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(supervisor_pid: int) -> None:
    while os.getppid() == supervisor_pid:
        time.sleep(_PARENT_CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)


def run_worker(*, fd: int, supervisor_pid: int, log_level: str, log_format: str) -> None:
    """Serve the app of the prepared hub (its settings in the environment) on the socket
    ``fd`` until SIGTERM or SIGINT.

    uvicorn is given the socket itself (``Server.run(sockets=...)``) rather than ``fd``: with
    ``Config(fd=...)`` it rebuilds the socket as ``AF_UNIX`` with no protocol, and asyncio then
    leaves ``TCP_NODELAY`` off on the connections it accepts.

    Args:
        fd: the listening socket's file descriptor, inherited from the supervisor.
        supervisor_pid: the supervisor's pid (this worker ends when it goes).
        log_level: the hub's log level.
        log_format: ``json`` or ``text``.

    Raises:
        SystemExit: 3 when the app did not start (uvicorn's startup failure code), 0 when the
            supervisor is already gone.
    """
    follow_supervisor(supervisor_pid)
    import uvicorn

    limit_malloc_arenas()
    configure_logging(log_level, log_format)
    listener = socket.socket(fileno=fd)  # family, type and protocol read from the socket
    server = uvicorn.Server(uvicorn.Config(**UVICORN_OPTIONS))
    server.run(sockets=[listener])
    if not server.started:  # as uvicorn.run: a stop before startup ended is a failed start
        raise SystemExit(_STARTUP_FAILURE)


def _main(argv: list[str] | None = None) -> None:
    """``python -m hub_server.worker``: what the supervisor starts for each worker."""
    parser = argparse.ArgumentParser(prog="python -m hub_server.worker")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--supervisor", type=int, required=True)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--log-format", default="json")
    args = parser.parse_args(argv)
    run_worker(
        fd=args.fd,
        supervisor_pid=args.supervisor,
        log_level=args.log_level,
        log_format=args.log_format,
    )


if __name__ == "__main__":
    _main()
