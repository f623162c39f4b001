"""The supervisor of ``hub serve --workers N``: one listening socket, N worker processes.

``hub serve`` prepares the hub, then (with several workers, on POSIX) becomes
``python -m hub_server.supervisor`` (``exec``, same pid). This process binds the socket, starts
the workers (``python -m hub_server.worker``, each serving the app with uvicorn on the
inherited socket) and then only watches them, so it imports the standard library and
:mod:`hub_server.logs` alone: no uvicorn, asyncio or multiprocessing, nothing of the server.
Measured: 14.7 MiB resident (a bare interpreter: 11 MiB), where uvicorn's own supervisor and
multiprocessing's resource tracker, which it replaces, took 27 + 13 MiB.

It behaves as gunicorn's does:

- a worker that exits unexpectedly is replaced, and the log says so;
- when workers keep exiting as soon as they start (:data:`FAILED_STARTS_PER_WORKER` times the
  worker count exit within :data:`STARTUP_SECONDS` of their start, all within
  :data:`FAILED_STARTS_WINDOW` seconds: a bad setting, an unreachable service), it stops the
  others and exits 1 with a one-line message instead of restarting them forever;
- SIGTERM or SIGINT is passed on to every worker as SIGTERM, which uvicorn answers by
  finishing its in-flight requests; workers still running after the graceful timeout are
  killed, and the supervisor exits 0. A second SIGTERM or SIGINT kills them at once;
- workers do not outlive a supervisor that is killed (see :mod:`hub_server.worker`).

It sleeps in ``select`` on a pipe that the signal handlers write to (``signal.set_wakeup_fd``),
so it wakes up for a signal, a worker's exit (SIGCHLD) or a deadline, not to poll.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections import deque

from hub_server.logs import configure_logging

logger = logging.getLogger("hub.supervisor")

GRACEFUL_TIMEOUT = 30.0
"""Seconds the workers get to finish their requests after SIGTERM, before SIGKILL."""
STARTUP_SECONDS = 15.0
"""A worker that exits sooner than this after its start failed to start."""
FAILED_STARTS_PER_WORKER = 2
FAILED_STARTS_WINDOW = 60.0
"""The supervisor gives up when ``FAILED_STARTS_PER_WORKER * workers`` workers failed to start
within this many seconds."""
BACKLOG = 2048  # uvicorn's default
# The longest sleep between two looks at the workers. Exits and signals wake the supervisor at
# once; this only bounds the damage should a wake-up ever be lost.
_IDLE_SECONDS = 5.0
_STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


def display_url(host: str, port: int) -> str:
    """The URL of ``host``:``port`` (an IPv6 address in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def listen(host: str, port: int) -> socket.socket:
    """Bind and listen on ``host``:``port`` (TCP, ``SO_REUSEADDR``; IPv6 when ``host`` is an
    IPv6 address, as uvicorn decides).

    The socket is made with its protocol (``IPPROTO_TCP``) so that the workers' event loops set
    ``TCP_NODELAY`` on the connections they accept, as uvicorn does for a socket of its own.

    Args:
        host: address (or host name) to listen on.
        port: port to listen on.

    Returns:
        The listening socket (not inheritable: workers receive it through ``pass_fds``).

    Raises:
        OSError: the address is taken, not local, or does not resolve.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def describe_exit(code: int) -> str:
    """``exit code 3`` or ``killed by SIGKILL``, for a ``Popen.returncode``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _Worker:
    # Not a dataclass: dataclasses imports inspect and ast (~1.5 MiB in this process).
    __slots__ = ("process", "started")

    def __init__(self, process: subprocess.Popen[bytes], started: float) -> None:
        self.process = process
        self.started = started


class GaveUp(Exception):
    """The supervisor cannot keep its workers running (they keep exiting as soon as they start,
    or no process can be started)."""


class Supervisor:
    """Starts ``workers`` processes serving on ``listener`` and keeps them running.

    Args:
        listener: the listening socket, passed to every worker.
        workers: how many workers to keep running.
        log_level: the workers' log level.
        log_format: the workers' log format (``json`` or ``text``).
        graceful_timeout: seconds between SIGTERM and SIGKILL when stopping.
    """

    def __init__(
        self,
        listener: socket.socket,
        *,
        workers: int,
        log_level: str = "INFO",
        log_format: str = "json",
        graceful_timeout: float = GRACEFUL_TIMEOUT,
    ) -> None:
        self.listener = listener
        self.workers = workers
        self.log_level = log_level
        self.log_format = log_format
        self.graceful_timeout = graceful_timeout
        self._running: dict[int, _Worker] = {}
        self._failed_starts: deque[float] = deque()
        self._wakeup = -1

    def run(self) -> int:
        """Start the workers and supervise them until a stop signal, or until they keep failing.

        Returns:
            0 after a stop signal (SIGTERM or SIGINT), 1 when the supervisor gave up (the
            one-line reason is on stderr).
        """
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        handled = (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD)
        # The handlers do nothing: the interpreter writes each signal's number to the pipe,
        # which is how the main loop learns of it. Installed before any worker starts, so no
        # signal is missed.
        previous = {signum: signal.signal(signum, _ignore) for signum in handled}
        previous_wakeup = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        self._wakeup = wake_read
        try:
            return self._supervise()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            os.close(wake_read)
            os.close(wake_write)
            self._wakeup = -1

    def _supervise(self) -> int:
        try:
            for _ in range(self.workers):
                self._start_worker()
            while True:
                if self._wait(_IDLE_SECONDS) & _STOP_SIGNALS:
                    self._stop()
                    return 0
                self._replace_exited_workers()
        except GaveUp as exc:
            self._stop()
            sys.stderr.write(f"hub serve: {exc}\n")  # last, where it is seen
            sys.stderr.flush()
            return 1

    def _start_worker(self) -> None:
        """Start one worker.

        Raises:
            GaveUp: the process could not be started (no memory, too many processes).
        """
        fd = self.listener.fileno()
        try:
            process = subprocess.Popen(  # noqa: S603 - this interpreter, our module, our values
                [
                    sys.executable,
                    "-m",
                    "hub_server.worker",
                    *("--fd", str(fd), "--supervisor", str(os.getpid())),
                    *("--log-level", self.log_level, "--log-format", self.log_format),
                ],
                pass_fds=(fd,),
            )
        except OSError as exc:
            raise GaveUp(f"cannot start a worker: {exc}") from exc
        self._running[process.pid] = _Worker(process, time.monotonic())
        logger.info("worker %d started", process.pid)

    def _replace_exited_workers(self) -> None:
        """Start a new worker for each that has exited.

        Raises:
            GaveUp: too many workers failed to start lately, or a new one cannot start.
        """
        for pid, worker in list(self._running.items()):
            code = worker.process.poll()
            if code is None:
                continue
            del self._running[pid]
            now = time.monotonic()
            lived = now - worker.started
            if lived < STARTUP_SECONDS:
                self._failed_starts.append(now)
                while now - self._failed_starts[0] > FAILED_STARTS_WINDOW:
                    self._failed_starts.popleft()
                if len(self._failed_starts) >= FAILED_STARTS_PER_WORKER * self.workers:
                    raise GaveUp(
                        f"{len(self._failed_starts)} workers exited within "
                        f"{STARTUP_SECONDS:.0f} s of their start (the last: "
                        f"{describe_exit(code)}); stopping (the workers' log says why)"
                    )
            logger.warning(
                "worker %d exited (%s) %.1f s after its start; starting another",
                pid,
                describe_exit(code),
                lived,
            )
            self._start_worker()

    def _stop(self) -> None:
        """SIGTERM every worker and wait for them; SIGKILL those still there after the
        graceful timeout, or at once on a second SIGTERM or SIGINT."""
        logger.info("stopping the workers (%d)", len(self._running))
        for worker in self._running.values():
            worker.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.graceful_timeout
        while self._running:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._wait(remaining) & _STOP_SIGNALS:
                break
            for pid, worker in list(self._running.items()):
                if worker.process.poll() is not None:
                    del self._running[pid]
        for pid, worker in self._running.items():
            logger.warning("worker %d is still running; killing it", pid)
            worker.process.kill()
            worker.process.wait()
        self._running.clear()
        logger.info("workers stopped")

    def _wait(self, timeout: float) -> set[int]:
        """Sleep until a signal arrives or ``timeout`` seconds pass.

        Returns:
            The numbers of the signals that arrived since the last call.
        """
        select.select([self._wakeup], [], [], timeout)
        received: set[int] = set()
        while True:
            try:
                data = os.read(self._wakeup, 512)
            except BlockingIOError:
                return received
            if not data:
                return received
            received.update(data)


def _ignore(signum: int, frame: object) -> None:
    """The Python-level handler of a supervised signal (the wake-up pipe does the work)."""


def main(argv: list[str] | None = None) -> None:
    """``python -m hub_server.supervisor``: what ``hub serve --workers N`` becomes once the hub
    is prepared (its settings in the environment).

    Raises:
        SystemExit: 1 when the address cannot be listened on or the workers keep failing to
            start; 0 after SIGTERM or SIGINT.
    """
    parser = argparse.ArgumentParser(prog="python -m hub_server.supervisor")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--log-format", default="json")
    parser.add_argument("--graceful-timeout", type=float, default=GRACEFUL_TIMEOUT)
    args = parser.parse_args(argv)
    configure_logging(args.log_level, args.log_format)
    try:
        listener = listen(args.host, args.port)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        sys.stderr.write(f"hub serve: cannot listen on {args.host}:{args.port}: {reason}\n")
        raise SystemExit(1) from None
    sys.stderr.write(
        f"Component Hub serving on {display_url(args.host, args.port)} (API docs: /docs)\n"
    )
    sys.stderr.flush()
    supervisor = Supervisor(
        listener,
        workers=args.workers,
        log_level=args.log_level,
        log_format=args.log_format,
        graceful_timeout=args.graceful_timeout,
    )
    with listener:
        raise SystemExit(supervisor.run())


if __name__ == "__main__":
    main()
