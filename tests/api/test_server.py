"""The real thing: uvicorn in a subprocess on 127.0.0.1, queried over HTTP with httpx.

One server is started exactly as the docs say (``python -m uvicorn api.app:create_app --factory``), one
through ``normgraph serve --workers 2`` (every worker opens the store read-only)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.live_server import free_port, server_env, stop, uvicorn, wait_until_up

from tests.api.demo_facts import CUSTOMER, TODDLER, assert_error, demo_rows, load_demo_home, stored_id

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
NORMGRAPH = Path(sys.executable).with_name("normgraph")


@pytest.fixture(scope="module")
def server_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return load_demo_home(tmp_path_factory.mktemp("server-home"))


@pytest.fixture()
def uvicorn_server(server_home: Path) -> Iterator[str]:
    with uvicorn(server_home) as base:
        yield base


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
    port = free_port()
    proc = subprocess.Popen(
        [str(NORMGRAPH), "serve", "--port", str(port), "--workers", "2", "--no-access-log"],
        cwd=REPO,
        env=server_env(server_home),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, base)
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
        out = stop(proc)
    assert "Traceback" not in out, out
