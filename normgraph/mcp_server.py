"""MCP server: the bank as tools for agents, over stdio or streamable HTTP.

Built on the official ``mcp`` SDK's high-level server (``MCPServer``, FastMCP's name since mcp 2). Tools:

- ``search_norms``       hybrid retrieval with graph filters
- ``norms_for_setting``  what holds in a setting (frame resolution), optionally for a behaviour under facts
- ``get_norm``           one statement by id (a citation id from the other tools)
- ``list_settings``      the settings of the bank with their norm counts, a page at a time
- ``build_prompt``       a ready-to-paste context block with citation ids, within a token budget
- ``judge_behavior``     is a behaviour expected, okay or unexpected (the caller's norms first, then the
                         bank's frames, its nearest statements, the judge's prior), with the stage that decided

The store is opened read-only (the server never writes, and may run beside ``normgraph serve``). The
embedding model and the index load on the first tool that needs them, so ``get_norm`` and ``list_settings``
answer at once and a missing index is reported by the tools that need it, with the fix.

    python -m normgraph.mcp_server [--home DIR] [--transport stdio|streamable-http] [--host H] [--port P]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable, Literal, TypeVar

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

from normgraph.errors import NormgraphError
from normgraph.settings import Settings

Transport = Literal["stdio", "streamable-http"]
TRANSPORTS: tuple[str, ...] = ("stdio", "streamable-http")
_T = TypeVar("_T")

INSTRUCTIONS = (
    "normgraph is a bank of social norms, rules of thumb, values, rights and duties. Use build_prompt or "
    "search_norms with the user's situation in plain words; quote the ids of the items you rely on. "
    "norms_for_setting answers 'what is expected here' for a known setting, with the constraints under which "
    "each norm holds. judge_behavior labels one behaviour, following any norms the user states."
)


class _Bank:
    """The read-only service behind the tools: frame queries, and retrieval through the service's own
    retriever (one model per process, the index checked against the store, the same input checks and error
    codes as the HTTP API)."""

    def __init__(self, settings: Settings) -> None:
        from normgraph.services import NormBankService

        self.settings = settings.model_copy(update={"read_only": True})
        self.service = NormBankService(self.settings)
        from normgraph.serving import prepare_for_serving

        prepare_for_serving(self.service.store)

    def close(self) -> None:
        self.service.close()


async def _call(fn: Callable[[], _T]) -> _T:
    try:
        return await anyio.to_thread.run_sync(fn)
    except NormgraphError as e:
        # One line an agent can act on: the error code, the message (which names the fix where there is one).
        raise ToolError(f"{e.code}: {e.message}") from None


def create_server(settings: Settings) -> MCPServer:
    bank = _Bank(settings)
    server = MCPServer("normgraph", instructions=INSTRUCTIONS, version=_version())

    @server.tool()
    async def search_norms(
        query: str,
        k: int = 10,
        setting: str | None = None,
        kinds: list[str] | None = None,
        sources: list[str] | None = None,
        labels: list[str] | None = None,
        country: str | None = None,
    ) -> dict[str, Any]:
        """Find the norms, rules of thumb, values, rights and duties most relevant to a free-text situation.

        k: 1-100. setting: only statements of this setting or a broader one. kinds: norm, rule_of_thumb,
        value, right, duty. labels: expected, okay, unexpected. Each result has an id to cite."""
        filters = {
            key: value
            for key, value in {"setting": setting, "kinds": kinds, "sources": sources, "labels": labels, "country": country}.items()
            if value is not None
        }
        result = await _call(lambda: bank.service.retrieval.retrieve(query, k, filters or None))
        return {"results": [h.model_dump(mode="json", exclude_none=True) for h in result.results]}

    @server.tool()
    async def norms_for_setting(
        setting: str,
        behavior: str | None = None,
        facts: list[str] | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        """What holds in a setting: per behaviour, the resolved label (expected / okay / unexpected) with the
        norms that decide it, those defeated by more specific ones, and those that would hold if unknown facts
        were true. facts: constraints in NormBank grammar, e.g. "[PERSON]'s role is 'customer'"."""
        result = await _call(lambda: bank.service.query(setting, behavior, facts or (), limit=limit, cursor=cursor))
        return result.model_dump(mode="json")

    @server.tool()
    async def get_norm(id: str) -> dict[str, Any]:
        """One statement (norm, rule of thumb, value, right or duty) by its id, with its provenance."""
        statement = await _call(lambda: bank.service.get_statement(id))
        return statement.model_dump(mode="json")

    @server.tool()
    async def list_settings(limit: int = 50, cursor: str | None = None) -> dict[str, Any]:
        """The settings of the bank in name order with their norm counts; pass next_cursor back for more."""
        page = await _call(lambda: bank.service.list_settings(limit, cursor))
        return page.model_dump(mode="json")

    @server.tool()
    async def build_prompt(
        situation: str,
        k: int = 8,
        format: str = "markdown",
        max_tokens: int = 800,
        setting: str | None = None,
    ) -> dict[str, Any]:
        """A context block for an agent's prompt: the k most relevant items for the situation, near-duplicates
        removed, grouped (norms / rules of thumb / values, rights and duties), conflicts flagged, within
        max_tokens, each with a citation id. format: markdown or json."""
        filters = {"setting": setting} if setting else None
        result = await _call(lambda: bank.service.retrieval.prompt(situation, k, format, max_tokens, filters))
        return result.model_dump(mode="json")

    @server.tool()
    async def judge_behavior(
        behavior: str,
        setting: str | None = None,
        facts: list[str] | None = None,
        norms: list[str] | None = None,
        country: str | None = None,
    ) -> dict[str, Any]:
        """Judge a behaviour (an action phrase or a short situation) expected, okay or unexpected, with calibrated
        scores, the stage that decided (supplied_norms, frame_resolution, retrieval, model_prior) and the
        evidence. norms: the community's own norms in words ("It's rude to X", "expected: X"), followed over the
        bank's; a norm that does not bear on the behaviour does not decide. facts: NormBank constraints, with a
        setting."""
        from normgraph.judge.schemas import parse_norm

        request = {"behavior": behavior, "setting": setting, "facts": facts, "country": country,
                   "norms": [parse_norm(n) for n in norms] if norms else None}
        result = await _call(lambda: bank.service.judge.judge({k: v for k, v in request.items() if v is not None}))
        return result.model_dump(mode="json", exclude_none=True)

    server._normgraph_bank = bank  # type: ignore[attr-defined]  # closed by run()
    return server


def run(settings: Settings, transport: Transport = "stdio", *, host: str | None = None, port: int | None = None) -> None:
    """Serve until the client disconnects (stdio) or the process is stopped (HTTP, at ``/mcp``)."""
    if transport not in TRANSPORTS:
        from normgraph.errors import InvalidInput

        raise InvalidInput(f"unknown MCP transport {transport!r}; use {' or '.join(TRANSPORTS)}", {"transport": transport})
    server = create_server(settings)
    try:
        if transport == "stdio":
            server.run("stdio")
        else:
            server.run("streamable-http", host=host or settings.host, port=port or settings.port)
    finally:
        server._normgraph_bank.close()  # type: ignore[attr-defined]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("normgraph")
    except Exception:  # noqa: BLE001 - an uninstalled checkout has no metadata; the version is only informative
        return "0"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m normgraph.mcp_server", description="normgraph MCP server")
    ap.add_argument("--home", help="data home (default: NORMGRAPH_HOME or the platform data directory)")
    ap.add_argument("--transport", choices=TRANSPORTS, default="stdio")
    ap.add_argument("--host")
    ap.add_argument("--port", type=int)
    args = ap.parse_args(argv)
    try:
        settings = Settings.from_env(home=args.home)
        run(settings, args.transport, host=args.host, port=args.port)
    except NormgraphError as e:
        print(f"error: {e.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
