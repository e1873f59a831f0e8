"""A real server process on 127.0.0.1 for tests that need one (HTTP clients, a browser): start, wait, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NORMGRAPH_")}
    env.update(NORMGRAPH_HOME=str(home), **extra)
    return env


def wait_until_up(proc: subprocess.Popen[bytes], base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            raise AssertionError(f"server exited with {proc.returncode}:\n{out}")
        try:
            if httpx.get(base + "/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"server at {base} did not come up in {timeout}s")


def stop(proc: subprocess.Popen[bytes]) -> str:
    """Interrupt a server (Ctrl-C, as a user would) and return what it printed. A server started with
    ``start_new_session=True`` is stopped as its whole process group: its worker processes hold the output pipe
    too, so a supervisor killed alone would leave them running and this read waiting for ever."""
    group = _own_group(proc)
    if proc.poll() is None:
        _signal(proc, group, signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _signal(proc, group, signal.SIGKILL)
            proc.wait()
    if group is not None:  # workers the supervisor did not take down with it
        _signal(proc, group, signal.SIGKILL)
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        return "(output not read: a process still holds the pipe)"
    return out.decode(errors="replace") if out else ""


def _own_group(proc: subprocess.Popen[bytes]) -> int | None:
    try:
        group = os.getpgid(proc.pid)
    except ProcessLookupError:
        return None
    return group if group == proc.pid else None


def _signal(proc: subprocess.Popen[bytes], group: int | None, sig: int) -> None:
    try:
        if group is not None:
            os.killpg(group, sig)
        else:
            proc.send_signal(sig)
    except ProcessLookupError:
        pass


@contextmanager
def uvicorn(home: Path, **env: str) -> Iterator[str]:
    """``api.app:create_app`` under uvicorn on a free loopback port; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=server_env(home, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, base)
        yield base
    finally:
        stop(proc)
