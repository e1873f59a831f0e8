"""The retrieval commands of the CLI on a real store and a real index in a tmp home (click's CliRunner, the
real commands in-process, the real default model loaded once for the module): `demo` indexes as it loads,
`index build|status|verify` (drift after an ingest with --no-embed exits 1), `retrieve`, `prompt`, and `mcp`
over stdio with the official client."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from normgraph.cli import EXIT_ERROR, EXIT_USAGE, cli
from normgraph.embed import DEFAULT_MODEL
from normgraph.services import DEMO_BANK

FUNERAL = "my phone rings during a funeral"
FUNERAL_NORM = "At a funeral, a mourner using their phone during the service is unexpected."
FIX = "normgraph index build"


def _demo_rows() -> list[dict]:
    return [json.loads(line) for line in DEMO_BANK.read_text(encoding="utf-8").splitlines() if line.strip()]


def run(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--home", str(home), *args])


def _write_jsonl(path: Path, *rows: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("cli-retrieval") / "home"
    result = run(home, "demo", "--no-taxonomy", "--no-progress")
    assert result.exit_code == 0, result.output
    index_line = next(line for line in result.stdout.splitlines() if line.startswith("index:"))
    n = len(_demo_rows())
    assert f"added {n}," in index_line and f"encoded {n} " in index_line and f"{n} live" in index_line
    return home


def test_status_and_verify_on_a_fresh_index(home: Path) -> None:
    n = len(_demo_rows())
    status = run(home, "index", "status")
    assert status.exit_code == 0, status.output
    assert f"{n} indexed, 0 tombstones; the store has {n}" in status.stdout
    assert f"{DEFAULT_MODEL}@" in status.stdout and "out of date" not in status.stdout
    data = json.loads(run(home, "index", "status", "--json").stdout)
    assert data["exists"] and data["live"] == data["store_statements_now"] == n and data["dim"] == 384

    verify = run(home, "index", "verify")
    assert verify.exit_code == 0, verify.output
    assert f"index matches the store ({n} statements)" in verify.stdout


def test_demo_if_empty_keeps_an_up_to_date_index(home: Path) -> None:
    result = run(home, "demo", "--no-taxonomy", "--if-empty", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "nothing loaded" in result.stdout and "index: up to date" in result.stdout


def test_retrieve_prints_the_most_relevant_norm_first(home: Path) -> None:
    table = run(home, "retrieve", FUNERAL, "-k", "3")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["#", "score", "kind"] and len(lines) == 2 + 3
    assert FUNERAL_NORM in lines[2]

    data = json.loads(run(home, "retrieve", FUNERAL, "-k", "3", "--json").stdout)
    assert data["query"] == FUNERAL and len(data["results"]) == 3
    assert data["results"][0]["text"] == FUNERAL_NORM and data["results"][0]["label"] == "unexpected"


def test_retrieve_filters(home: Path) -> None:
    data = json.loads(
        run(home, "retrieve", "using a phone", "-k", "50", "--setting", "wedding", "--kind", "norm", "--label", "okay", "--json").stdout
    )
    expected = {r["text"] for r in _demo_rows() if r["setting"] == "wedding" and r["label"] == "okay"}
    assert {r["text"] for r in data["results"]} == expected
    none = json.loads(run(home, "retrieve", "using a phone", "--source", "udhr", "--json").stdout)
    assert none["results"] == []
    assert "nothing matched" in run(home, "retrieve", "using a phone", "--source", "udhr").stdout


def test_retrieve_rejects_bad_input(home: Path) -> None:
    blank = run(home, "retrieve", "   ")
    assert blank.exit_code == EXIT_ERROR and "query must be a non-empty string" in blank.stderr
    assert "Traceback" not in blank.output
    assert run(home, "retrieve", "x", "-k", "0").exit_code == EXIT_USAGE
    assert run(home, "retrieve", "x", "--kind", "sermon").exit_code == EXIT_USAGE
    unknown = run(home, "retrieve", "x", "--setting", "moon base")
    assert unknown.exit_code == EXIT_ERROR and "moon base" in unknown.stderr
    facts = run(home, "retrieve", "x", "--fact", "[PERSON]'s role is 'customer'")
    assert facts.exit_code == EXIT_ERROR and "setting" in facts.stderr


def test_prompt_prints_a_cited_block(home: Path) -> None:
    result = run(home, "prompt", FUNERAL, "-k", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("## Social norms relevant to this situation")
    assert FUNERAL_NORM in result.stdout
    assert "normgraph-context@" in result.stderr and "items" in result.stderr

    full = json.loads(run(home, "prompt", FUNERAL, "-k", "3", "--format", "json", "--max-tokens", "300", "--json").stdout)
    assert full["format"] == "json" and full["tokens"] <= 300 and full["citations"]
    block = json.loads(full["prompt"])
    assert [x["id"] for x in block["norms"]] == [c["id"] for c in full["citations"]]
    assert full["citations"][0]["text"] == FUNERAL_NORM
    assert run(home, "prompt", FUNERAL, "--max-tokens", "10").exit_code == EXIT_USAGE


def test_ingest_without_embedding_drifts_until_index_build(home: Path, tmp_path: Path) -> None:
    text = "At a funeral, a mourner silencing their phone before the service is expected."
    extra = _write_jsonl(
        tmp_path / "extra.jsonl",
        {"id": "x1", "text": text, "setting": "funeral home", "behavior": "silence your phone", "label": "expected", "source": "extra"},
    )
    ingest = run(home, "ingest", "jsonl", str(extra), "--no-progress", "--no-embed")
    assert ingest.exit_code == 0, ingest.output
    assert "loaded 1," in ingest.stdout and "index:" not in ingest.stdout

    verify = run(home, "index", "verify")
    assert verify.exit_code == 1, verify.output
    assert "missing (1):" in verify.stdout and f"fix: run `{FIX}`" in verify.stdout
    report = json.loads(run(home, "index", "verify", "--json").stdout)
    assert report["ok"] is False and len(report["missing"]) == 1 and not report["stale"]
    status = run(home, "index", "status")
    assert "out of date" in status.stdout

    stale = run(home, "retrieve", "silence my phone at a funeral")
    assert stale.exit_code == EXIT_ERROR and FIX in stale.stderr and "Traceback" not in stale.output

    build = run(home, "index", "build", "--no-progress")
    assert build.exit_code == 0, build.output
    assert "added 1," in build.stdout and "encoded 1 (cache hits 0)" in build.stdout
    assert run(home, "index", "verify").exit_code == 0
    found = json.loads(run(home, "retrieve", "silence my phone at a funeral", "-k", "1", "--json").stdout)
    assert found["results"][0]["text"] == text

    # a rebuild from scratch re-encodes nothing: every vector is in the embedding cache
    rebuilt = json.loads(run(home, "index", "build", "--rebuild", "--no-progress", "--json").stdout)
    assert rebuilt["compacted"] and rebuilt["encoded"] == 0 and rebuilt["cache_hits"] == rebuilt["live"]


def test_ingest_embeds_by_default(home: Path, tmp_path: Path) -> None:
    text = "At a wedding, a guest asking the band to play their own song is unexpected."
    extra = _write_jsonl(
        tmp_path / "more.jsonl",
        {"id": "x2", "text": text, "setting": "wedding", "behavior": "request a song", "label": "unexpected", "source": "extra"},
    )
    result = run(home, "ingest", "jsonl", str(extra), "--no-progress")
    assert result.exit_code == 0, result.output
    index_line = next(line for line in result.stdout.splitlines() if line.startswith("index:"))
    assert "added 1," in index_line and "encoded 1 " in index_line
    assert run(home, "index", "verify").exit_code == 0
    again = run(home, "ingest", "jsonl", str(extra), "--no-progress")
    assert "index: up to date" in again.stdout


def test_verify_without_an_index_names_the_fix(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "demo", "--no-taxonomy", "--no-progress", "--no-embed").exit_code == 0
    missing = run(home, "index", "verify")
    assert missing.exit_code == EXIT_ERROR and FIX in missing.stderr
    status = run(home, "index", "status")
    assert status.exit_code == 0 and "no index" in status.stdout and FIX in status.stdout
    assert FIX in run(home, "prompt", FUNERAL).stderr
    # `make serve` runs `demo --if-empty`: on a bank loaded before it had an index, that builds one
    again = run(home, "demo", "--no-taxonomy", "--if-empty", "--no-progress")
    assert again.exit_code == 0, again.output
    assert "nothing loaded" in again.stdout and f"added {len(_demo_rows())}," in again.stdout
    assert run(home, "index", "verify").exit_code == 0


@pytest.mark.slow
def test_mcp_serves_the_bank_over_stdio(home: Path) -> None:
    anyio = pytest.importorskip("anyio")
    from mcp import Client, StdioServerParameters

    script = Path(sys.executable).with_name("normgraph")
    if not script.exists():
        pytest.skip(f"the normgraph console script is not installed at {script}")

    async def session() -> tuple[set[str], dict]:
        params = StdioServerParameters(command=str(script), args=["--home", str(home), "mcp"], env={"HF_HUB_OFFLINE": "1"})
        with anyio.fail_after(180):
            async with Client(params, read_timeout_seconds=120) as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                found = await client.call_tool("search_norms", {"query": FUNERAL, "k": 2})
                assert not found.is_error, found.content
                payload = found.structured_content or json.loads(found.content[0].text)
                return tools, payload

    tools, payload = anyio.run(session)
    assert {"search_norms", "get_norm", "build_prompt", "list_settings", "norms_for_setting"} <= tools
    assert payload["results"][0]["text"] == FUNERAL_NORM
