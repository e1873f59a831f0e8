"""The MCP server in a subprocess over stdio, driven by the official ``mcp`` client."""

from __future__ import annotations

import json
import sys

import anyio
import pytest
from mcp import Client, StdioServerParameters

from normgraph.index import build
from normgraph.retrieval import Retriever
from tests.ranking import assert_clearly_first, retriever_search

from .conftest import STATEMENTS

TOOLS = {"search_norms", "norms_for_setting", "get_norm", "list_settings", "build_prompt"}


def _payload(result) -> dict:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def _check_clearly_first(store, home, embedder, query: str, expected: str) -> None:
    """The server's answer below is asserted exactly: check here, in process, that it wins by a real margin."""
    r = Retriever.open(store, home, embedder=embedder)
    try:
        assert_clearly_first(retriever_search(r, query), expected, r.retrieve(query, 1).results[0].id)
    finally:
        r.close()


async def _session(home, calls):
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "normgraph.mcp_server", "--home", str(home)],
        env={"HF_HUB_OFFLINE": "1"},
    )
    with anyio.fail_after(180):
        async with Client(params, read_timeout_seconds=120) as client:
            return await calls(client)


@pytest.mark.slow
def test_every_tool_over_stdio(store, home, embedder):
    build(store, home, embedder)
    _check_clearly_first(store, home, embedder, "my phone rings at a funeral", "rot-phone-funeral")
    store.close()  # the server opens the bank read-only in its own process

    async def calls(client):
        listed = {t.name for t in (await client.list_tools()).tools}
        out = {"tools": listed}
        out["search"] = _payload(await client.call_tool("search_norms", {"query": "my phone rings at a funeral", "k": 3}))
        out["filtered"] = _payload(
            await client.call_tool("search_norms", {"query": "customer", "k": 10, "setting": "diner", "kinds": ["norm"]})
        )
        out["setting"] = _payload(
            await client.call_tool(
                "norms_for_setting",
                {"setting": "diner", "behavior": "shout", "facts": ["[PERSON]'s role is 'customer'", "[PERSON]'s age bracket is 'toddler'"]},
            )
        )
        out["norm"] = _payload(await client.call_tool("get_norm", {"id": "n-tip-diner"}))
        out["settings"] = _payload(await client.call_tool("list_settings", {"limit": 2}))
        out["prompt"] = _payload(await client.call_tool("build_prompt", {"situation": "my phone rings at a funeral", "k": 4}))
        out["bad_k"] = await client.call_tool("search_norms", {"query": "anything", "k": 500})
        out["unknown"] = await client.call_tool("get_norm", {"id": "n-does-not-exist"})
        return out

    out = anyio.run(_session, home, calls)
    assert TOOLS <= out["tools"]
    assert out["search"]["results"][0]["id"] == "rot-phone-funeral"
    assert len(out["search"]["results"]) == 3
    filtered = out["filtered"]["results"]
    assert filtered and all(r["kind"] == "norm" and r["setting"] in {"diner", "restaurant"} for r in filtered)
    shout = out["setting"]["results"][0]
    assert shout["behavior"] == "shout" and shout["label"] == "okay"
    assert out["norm"]["text"] == next(s.text for s in STATEMENTS if s.id == "n-tip-diner")
    assert [s["name"] for s in out["settings"]["items"]] == ["diner", "funeral"] and out["settings"]["next_cursor"]
    prompt = out["prompt"]
    assert prompt["template"].startswith("normgraph-context@")
    assert prompt["citations"][0]["id"] == "rot-phone-funeral" and "[rot-phone-funeral]" in prompt["prompt"]
    assert out["bad_k"].is_error and "k must be" in out["bad_k"].content[0].text
    assert out["unknown"].is_error and "not_found" in out["unknown"].content[0].text


@pytest.mark.slow
def test_search_without_an_index_names_the_fix(store, home):
    store.close()

    async def calls(client):
        return (
            await client.call_tool("search_norms", {"query": "funeral", "k": 3}),
            await client.call_tool("get_norm", {"id": "rot-gossip"}),
        )

    search, norm = anyio.run(_session, home, calls)
    assert search.is_error and "normgraph index build" in search.content[0].text
    assert _payload(norm)["id"] == "rot-gossip"  # tools that need no index still answer


@pytest.mark.slow
def test_streamable_http_transport(store, home, embedder):
    import socket
    import subprocess
    import time

    build(store, home, embedder)
    _check_clearly_first(store, home, embedder, "whispering among the bookshelves", "n-whisper-library")
    store.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "normgraph.mcp_server", "--home", str(home), "--transport", "streamable-http",
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.2)

        async def calls():
            async with Client(f"http://127.0.0.1:{port}/mcp", read_timeout_seconds=120) as client:
                tools = {t.name for t in (await client.list_tools()).tools}
                found = _payload(await client.call_tool("search_norms", {"query": "whispering among the bookshelves", "k": 1}))
                return tools, found

        tools, found = anyio.run(calls)
        assert TOOLS <= tools
        assert found["results"][0]["id"] == "n-whisper-library"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
