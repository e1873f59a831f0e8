"""Situations over HTTP and on the command line: sources ingested with the real CLI into a tmp home, then
``GET /v1/situations/{id}`` from a real uvicorn server on 127.0.0.1 and from the in-process app, and
``normgraph query --situation``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from api.app import create_app
from normgraph.cli import cli
from normgraph.settings import Settings
from normgraph.situations import situation_id
from tests.api.demo_facts import assert_error
from tests.live_server import REPO, free_port, server_env, stop, wait_until_up

FIXTURES = REPO / "tests" / "data" / "ingest"
COOKING = "lying to my friend about liking her cooking"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("situations-home")
    for source, name in (
        ("social-chem", "social_chem_sample.tsv"),
        ("valueprism", "valueprism_sample.csv"),
        ("moral-stories", "moral_stories_sample.jsonl"),
    ):
        result = CliRunner().invoke(cli, ["--home", str(home), "ingest", source, str(FIXTURES / name), "--no-progress"])
        assert result.exit_code == 0, result.output
    return home


@pytest.fixture()
def client(home: Path) -> Iterator[TestClient]:
    """The app in-process; it holds the store while the test runs (the CLI and server tests open it themselves)."""
    with TestClient(create_app(Settings(home=home))) as c:
        yield c


def kinds(body: dict) -> dict[str, set[str]]:
    return {k: {s["text"] for s in body[k]} for k in ("rules_of_thumb", "values", "rights", "duties", "norms")}


def test_get_situation_by_id_returns_everything_linked(client):
    sid = situation_id(COOKING)
    resp = client.get(f"/v1/situations/{sid}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["id"] == sid and body["text"] == COOKING
    got = kinds(body)
    assert got["values"] == {"Honesty", "Kindness"} and got["duties"] == {"Duty to be honest with friends"}
    assert got["rights"] == {"Right to truthful information"}
    assert len(got["rules_of_thumb"]) == 3 and len(body["norms"]) == 2
    assert {s["kind"] for s in body["rules_of_thumb"]} == {"rule_of_thumb"}
    assert all(s["provenance"]["source"] for k in got for s in body[k])
    assert body["sources"] == ["moral-stories", "social-chem", "valueprism"]
    assert any("CC BY-SA 4.0" in a for a in body["attribution"])
    # Without the prefix, and by text (any case), it is the same situation.
    assert client.get(f"/v1/situations/{sid.removeprefix('situation/')}").json()["id"] == sid
    by_text = client.get("/v1/situations", params={"text": "Lying to my friend about liking her COOKING"})
    assert by_text.status_code == 200 and by_text.json()["id"] == sid
    limited = client.get(f"/v1/situations/{sid}", params={"limit": 1}).json()
    assert len(limited["values"]) == 1 and len(limited["rules_of_thumb"]) == 1


def test_unknown_situation_and_bad_limit_use_the_error_shape(client):
    err = assert_error(client.get("/v1/situations/situation/nobody-wrote-this"), 404, "not_found")
    assert "no situation" in err["message"]
    assert_error(client.get("/v1/situations", params={"text": "nobody wrote this either"}), 404, "not_found")
    assert_error(client.get(f"/v1/situations/{situation_id(COOKING)}", params={"limit": 0}), 422)
    assert "/v1/situations/{situation_id}" in client.get("/openapi.json").json()["paths"]


def test_query_situation_on_the_command_line(home):
    runner = CliRunner()
    out = runner.invoke(cli, ["--home", str(home), "query", "--situation", COOKING])
    assert out.exit_code == 0, out.output
    assert "rules of thumb (3)" in out.output and "values (2)" in out.output and "norms (2)" in out.output
    assert "Duty to be honest with friends" in out.output and "Share-alike" in out.output
    as_json = runner.invoke(cli, ["--home", str(home), "query", "--situation", situation_id(COOKING), "--json"])
    assert json.loads(as_json.output)["id"] == situation_id(COOKING)
    usage = runner.invoke(cli, ["--home", str(home), "query", "--situation", COOKING, "--setting", "bar"])
    assert usage.exit_code == 2
    missing = runner.invoke(cli, ["--home", str(home), "query", "--situation", "never written"])
    assert missing.exit_code == 1 and "no situation" in missing.output
    sources = runner.invoke(cli, ["sources"])
    for name in ("social-chem", "valueprism", "moral-stories", "ethics", "privacylens", "values", "udhr", "mfd"):
        assert f"\n{name}\n" in "\n" + sources.output
    assert "licence: CC BY-SA 4.0 (share-alike)" in sources.output and "rot-moral-foundations" in sources.output
    stats = json.loads(runner.invoke(cli, ["--home", str(home), "stats", "--json"]).output)
    assert {"by_kind", "by_source", "by_setting", "by_label"} <= set(stats)
    assert stats["by_source"] == {"moral-stories": 12, "social-chem": 7, "valueprism": 10}


@pytest.mark.slow
def test_situation_over_real_http(home):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO, env=server_env(home), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(proc, base)
        resp = httpx.get(f"{base}/v1/situations/{situation_id(COOKING)}", timeout=10)
        assert resp.status_code == 200
        assert kinds(resp.json())["duties"] == {"Duty to be honest with friends"}
        assert_error(httpx.get(f"{base}/v1/situations/situation/none", timeout=10), 404, "not_found")
    finally:
        stop(proc)
