"""Processes forked from a pre-imported zygote: the host's side.

A zygote is a long-lived interpreter that imported what every process of one kind imports (the Lambda
runtime's libraries, an image's serving stack), then forks one child per request: the child is its own
process with the environment, working directory, arguments and standard streams it is given, and shares
the zygote's imported modules copy-on-write. Its protocol: the zygote is started with a SOCK_SEQPACKET
socket's descriptor as its last argument and sends ``{"ready": true}`` once imported; a request is a JSON spec
with descriptors attached (SCM_RIGHTS); the answer is ``{"pid": n}`` with a pidfd of the child, through which
the host watches and signals it (the child is the zygote's, which reaps it). Closing the socket ends the
zygote, not its children.

This module holds both sides: the host's (`Zygote`, `ForkedProcess`) and the zygote's loop (`serve_forks`),
which each zygote script (`_lambda_worker.zygote`, `sagemaker/_serving_stack.zygote`) runs from this file by
its path (`runpy.run_path`, which leaves nothing in `sys.modules`), since it runs in other interpreters (an
image's Python 3.10 or 3.12) that import nothing from `driftline_local`. So this module imports the standard
library only, and nothing at run time that those zygotes do not import anyway.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import traceback
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:  # annotations only: an image's zygote that loads this module need not import them
    from collections.abc import Callable
    from pathlib import Path

START_TIMEOUT_SECONDS = 120.0  # a loaded 2-core machine importing xgboost and scikit-learn
SPAWN_MESSAGE_BYTES = 1 << 20  # the largest spec a request carries (a function's environment)
SPAWN_DESCRIPTORS = 3  # every kind of child is given three descriptors (its streams or pipes)


class ForkedProcess:
    """A child of a zygote, with the `subprocess.Popen` methods its host uses (poll, wait, terminate, kill)."""

    def __init__(self, pid: int, pidfd: int | None, stdin: Any = None, stdout: Any = None) -> None:
        self.pid = pid
        self._pidfd = pidfd
        self.stdin = stdin
        self.stdout = stdout
        self.returncode: int | None = None if pidfd is not None else -1  # no pidfd: it ended before it was watched
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        with self._lock:
            if self.returncode is None and self._pidfd is not None and select.select([self._pidfd], [], [], 0)[0]:
                self.returncode = -1  # ended; its exit status belongs to the zygote, which reaps it
                os.close(self._pidfd)
                self._pidfd = None
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        pidfd = self._pidfd
        if self.returncode is None and pidfd is not None:
            with contextlib.suppress(OSError, ValueError):  # closed meanwhile by poll(): it ended
                ready, _, _ = select.select([pidfd], [], [], timeout)
                if not ready:
                    raise subprocess.TimeoutExpired(f"forked process {self.pid}", timeout or 0.0)
        return self.poll() or -1

    def send_signal(self, sig: int) -> None:
        with self._lock:
            if self.returncode is None and self._pidfd is not None:
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(self._pidfd, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class Zygote:
    """A running zygote: `command` plus the socket's descriptor, started with `env` in `cwd`."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, log_path: Path) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with open(log_path, "ab") as log_file:
            self.proc = subprocess.Popen(
                [*command, str(theirs.fileno())],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        theirs.close()
        self._sock = ours
        self._lock = threading.Lock()
        ours.settimeout(START_TIMEOUT_SECONDS)
        try:
            ready = json.loads(ours.recv(4096) or b"{}").get("ready")
        except (OSError, ValueError):
            ready = False
        ours.settimeout(None)
        if not ready:
            self.close()
            raise RuntimeError(f"the zygote {command[1:2]} did not start (log: {log_path})")

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def spawn(self, spec: dict[str, Any], fds: list[int]) -> tuple[int, int | None]:
        """Fork a child with `spec` and `fds` (the caller closes its copies); (pid, pidfd or None if it ended)."""
        with self._lock:
            socket.send_fds(self._sock, [json.dumps(spec).encode()], fds)
            data, received, _, _ = socket.recv_fds(self._sock, 4096, 1)
        if not data:
            raise RuntimeError("the zygote exited")
        return int(json.loads(data)["pid"]), (received[0] if received else None)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)  # it sees the closed socket within its reaping tick
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


# --- the zygote's side ---------------------------------------------------------------------------------------
def serve_forks(sock: socket.socket, start_child: Callable[[dict[str, Any], list[int]], None]) -> None:
    """The zygote's loop, once its imports are done: announce it is ready, then fork one child per request on
    `sock`, which runs ``start_child(spec, descriptors)`` and exits; return when the host closes the socket."""
    sock.send(json.dumps({"ready": True}).encode())
    while True:
        readable, _, _ = select.select([sock], [], [], 5.0)
        _reap_children()
        if not readable:
            continue
        data, fds, _, _ = socket.recv_fds(sock, SPAWN_MESSAGE_BYTES, SPAWN_DESCRIPTORS)
        if not data:
            return
        spec = json.loads(data)
        pid = os.fork()
        if pid == 0:
            _run_child(sock, start_child, spec, fds)
        for fd in fds:
            os.close(fd)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # it ended already: no pidfd to watch it by
            sock.send(json.dumps({"pid": pid, "exited": True}).encode())
            continue
        socket.send_fds(sock, [json.dumps({"pid": pid}).encode()], [pidfd])
        os.close(pidfd)


def _run_child(
    sock: socket.socket, start_child: Callable[[dict[str, Any], list[int]], None], spec: dict[str, Any], fds: list[int]
) -> NoReturn:
    """In a freshly forked child: run it and exit as a fresh interpreter running it would (never return into
    the zygote's loop): 0, a `SystemExit`'s code, or 1 with the traceback on stderr."""
    code = 1
    try:
        sock.close()
        start_child(spec, fds)
        code = 0
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
    except BaseException:  # noqa: BLE001 - the child never returns into the zygote's loop
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)


def _reap_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
