"""The real thing: uvicorn in a subprocess on 127.0.0.1, queried over HTTP with httpx.

One server is started exactly as the docs say (``python -m uvicorn api.app:create_app --factory``), one
through ``normgraph serve --workers 2`` (every worker opens the store read-only)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.api.demo_facts import CUSTOMER, TODDLER, assert_error, demo_rows, load_demo_home, stored_id

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
NORMGRAPH = Path(sys.executable).with_name("normgraph")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NORMGRAPH_")}
    env.update(NORMGRAPH_HOME=str(home), **extra)
    return env


def _wait_until_up(proc: subprocess.Popen[bytes], base: str, timeout: float = 60.0) -> None:
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


def _stop(proc: subprocess.Popen[bytes]) -> str:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.stdout.read().decode(errors="replace") if proc.stdout else ""


@pytest.fixture(scope="module")
def server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_demo_home(tmp_path_factory.mktemp("server-home"))


@pytest.fixture()
def uvicorn_server(server_home: Path) -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=_env(server_home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, base)
        yield base
    finally:
        _stop(proc)


def test_the_real_server_answers_the_override_and_errors_in_shape(uvicorn_server: str) -> None:
    with httpx.Client(base_url=uvicorn_server, timeout=10.0) as http:
        health = http.get("/healthz").json()
        assert health["ok"] is True and health["read_only"] is False
        assert health["statements"] == len({r["id"] for r in demo_rows()})

        general = http.post("/v1/norms/query", json={"setting": "restaurant", "behavior": "shout", "facts": [CUSTOMER]})
        assert general.status_code == 200
        r = general.json()["results"][0]
        assert r["label"] == "unexpected"
        assert stored_id("demo-restaurant-shout-2") in {c["id"] for c in r["conditional"]}

        toddler = http.post(
            "/v1/norms/query", json={"setting": "restaurant", "behavior": "shout", "facts": [CUSTOMER, TODDLER]}
        )
        assert toddler.json()["results"][0]["label"] == "okay"

        assert_error(http.post("/v1/norms/query", json={"setting": "moon base"}), 404, "not_found")
        assert_error(
            http.post("/v1/norms/query", content=b"{oops", headers={"content-type": "application/json"}),
            422,
            "invalid_json",
        )
        assert_error(http.get("/nowhere"), 404, "not_found")


@pytest.mark.skipif(not NORMGRAPH.exists(), reason=f"the normgraph console script is not installed at {NORMGRAPH}")
def test_serve_with_two_workers_opens_the_store_read_only(server_home: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [str(NORMGRAPH), "serve", "--port", str(port), "--workers", "2", "--no-access-log"],
        cwd=REPO,
        env=_env(server_home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, base)
        with httpx.Client(base_url=base, timeout=10.0) as http:
            # new connections spread over both workers; every one of them must be read-only and answer
            for _ in range(20):
                with httpx.Client(base_url=base, timeout=10.0) as fresh:
                    h = fresh.get("/healthz").json()
                    assert h["read_only"] is True
            resp = http.post("/v1/norms/query", json={"setting": "restaurant", "behavior": "shout", "facts": [CUSTOMER, TODDLER]})
            assert resp.status_code == 200
            assert resp.json()["results"][0]["label"] == "okay"
    finally:
        out = _stop(proc)
    assert "Traceback" not in out, out
