"""The retrieval commands of the ``normgraph`` CLI: ``index build|status|verify``, ``retrieve``, ``prompt`` and
``mcp``, plus what ``ingest`` and ``demo`` use to bring the index up to date.

The commands take the CLI's state object with ``click.pass_obj`` (its ``service()`` and ``settings()``), and
``normgraph.cli`` adds them to its group; errors are ``NormgraphError``s, which the group prints as one line
with exit status 1.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import click

from normgraph.models import Kind, Label

RETRIEVAL_MODES = ("hybrid", "dense", "lexical")
INDEX_KINDS = ("auto", "flat", "hnsw", "ivf")
MCP_TRANSPORTS = ("stdio", "streamable-http")
EXIT_DRIFT = 1


# --- used by ingest and demo --------------------------------------------------------------------------------


def embed_wanted(service: Any, flag: bool | None) -> bool:
    """``--embed/--no-embed`` over the ``embed_on_ingest`` setting; checks that retrieval is installed before
    anything is written."""
    wanted = service.settings.embed_on_ingest if flag is None else flag
    if wanted:
        from normgraph.retrieval_service import require_installed

        require_installed()
    return bool(wanted)


def update_index(service: Any, changed: bool, progress: bool) -> None:
    report = service.retrieval.build_if_needed(changed, progress=progress)
    if report is None:
        click.echo("index: up to date")
    else:
        print_build(report)


def serving_note(settings: Any) -> str:
    """What `serve` says about retrieval before it starts (without loading faiss or the model)."""
    from normgraph.index import FIX, index_dir

    directory = index_dir(settings.home)
    if not (directory / "meta.sqlite").is_file():
        return f"retrieval: no index at {directory}; /v1/retrieve and /v1/prompt answer 503 until you {FIX}"
    return (
        f"retrieval: index at {directory}, model {settings.embedding_model} on {settings.embedding_backend} "
        "(loads in the background in each worker)"
    )


def print_build(r: Any, out: Callable[[str], None] = click.echo) -> None:
    out(
        f"index: added {r.added}, text changed {r.text_changed}, metadata changed {r.metadata_changed}, "
        f"removed {r.removed}, unchanged {r.unchanged}; encoded {r.encoded} (cache hits {r.cache_hits}); "
        f"{r.kind}, {r.live} live, {r.tombstones} tombstones{', compacted' if r.compacted else ''} ({r.seconds:.1f}s)"
    )


def _short(text: str, width: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _filters(setting: str | None, kinds: tuple[str, ...], sources: tuple[str, ...], labels: tuple[str, ...], country: str | None) -> dict[str, Any]:
    given = {"setting": setting, "kinds": list(kinds), "sources": list(sources), "labels": list(labels), "country": country}
    return {k: v for k, v in given.items() if v}


def _filter_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--setting", "-s", help="Only statements of this setting or a broader one (name or alias)."),
        click.option("--kind", "kinds", multiple=True, type=click.Choice([k.value for k in Kind]), help="Only this kind; repeat for several."),
        click.option("--source", "sources", multiple=True, metavar="NAME", help="Only this source dataset (e.g. demo, social-chem-101); repeat for several."),
        click.option("--label", "labels", multiple=True, type=click.Choice([x.value for x in Label]), help="Only this label; repeat for several."),
        click.option("--country", help="Only statements that hold in this country."),
        click.option(
            "--fact", "-f", "facts", multiple=True, metavar="CONSTRAINT",
            help="With --setting: a fact in NormBank grammar, to re-rank norms by frame resolution; repeat for several.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


# --- index --------------------------------------------------------------------------------------------------


@click.group()
def index() -> None:
    """The retrieval index beside the store (HOME/index): vectors, BM25 and the id map."""


@index.command("build")
@click.option(
    "--kind",
    type=click.Choice(INDEX_KINDS),
    default="auto",
    show_default=True,
    help="Vector index: exact flat for small banks, HNSW up to millions, IVF beyond (auto chooses by size).",
)
@click.option("--rebuild", is_flag=True, help="Compact into a fresh index (vectors still come from the embedding cache).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar while encoding.")
@click.option("--json", "as_json", is_flag=True, help="Print the build report as JSON.")
@click.pass_obj
def index_build(state: Any, kind: str, rebuild: bool, progress: bool, as_json: bool) -> None:
    """Create the index or bring it up to date with the store. Incremental: only new or changed texts are
    encoded, and texts encoded before come from the embedding cache (HOME/embeddings)."""
    report = state.service().index_build(kind, rebuild, progress)
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        print_build(report)


@index.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_obj
def index_status(state: Any, as_json: bool) -> None:
    """What index is there: model, kind, size, generation, when it was built; and whether its count matches
    the store's (`index verify` checks every statement)."""
    service = state.reader()
    st = service.index_status()
    stored = service.statement_count()
    if as_json:
        click.echo(json.dumps({**st.model_dump(mode="json"), "store_statements_now": stored}, indent=2))
        return
    if not st.exists:
        click.echo(f"no index at {st.path}; the store has {stored} statements: run `normgraph index build`")
        return
    click.echo(f"index:      {st.path}")
    click.echo(f"model:      {st.model_id} ({st.dim}-d)")
    click.echo(f"kind:       {st.kind}, generation {st.generation}, built {st.built_at}")
    click.echo(f"statements: {st.live} indexed, {st.tombstones} tombstones; the store has {stored}")
    click.echo(f"size:       {st.size_bytes / 1024 / 1024:.1f} MiB")
    if st.live != stored:
        click.echo("out of date: run `normgraph index build`")


@index.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the full report (every drifted id) as JSON.")
@click.pass_obj
def index_verify(state: Any, as_json: bool) -> None:
    """Compare every statement of the store with the index (ids, texts, filter fields, model). Exits 1 on
    drift, listing what drifted."""
    report = state.reader().index_verify()
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    elif report.ok:
        click.echo(report.summary())
    else:
        click.echo(f"checked {report.checked} statements of the store against {report.indexed} in the index")
        for name in ("missing", "stale", "text_changed", "metadata_changed"):
            ids = getattr(report, name)
            if ids:
                shown = ", ".join(ids[:20]) + (f" … (+{len(ids) - 20})" if len(ids) > 20 else "")
                click.echo(f"{name.replace('_', ' ')} ({len(ids)}): {shown}")
        if report.model_mismatch:
            click.echo(f"model: {report.model_mismatch}")
        click.echo(f"fix: {report.fix}")
    if not report.ok:
        click.get_current_context().exit(EXIT_DRIFT)


# --- retrieve and prompt ------------------------------------------------------------------------------------


@click.command()
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1, 100), default=10, show_default=True, help="How many results.")
@_filter_options
@click.option("--mode", type=click.Choice(RETRIEVAL_MODES), default="hybrid", show_default=True, help="Dense + BM25 fused, or one alone.")
@click.option("--json", "as_json", is_flag=True, help="Print the RetrievalResult as JSON.")
@click.pass_obj
def retrieve(
    state: Any,
    query: str,
    k: int,
    setting: str | None,
    kinds: tuple[str, ...],
    sources: tuple[str, ...],
    labels: tuple[str, ...],
    country: str | None,
    facts: tuple[str, ...],
    mode: str,
    as_json: bool,
) -> None:
    """The statements most relevant to QUERY, a situation in plain words."""
    result = state.reader().retrieve(query, k, _filters(setting, kinds, sources, labels, country), mode, list(facts) or None)
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    if not result.results:
        click.echo("nothing matched (check the filters)")
        return
    from normgraph.cli import _table

    rows = [
        (i, f"{h.score:.4f}", h.kind.value, h.label.value if h.label else "-", h.setting or "-", h.id, _short(h.text))
        for i, h in enumerate(result.results, 1)
    ]
    click.echo(_table(("#", "score", "kind", "label", "setting", "id", "text"), rows))


@click.command()
@click.argument("situation")
@click.option("-k", "k", type=click.IntRange(1, 100), default=8, show_default=True, help="At most this many items.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True)
@click.option("--max-tokens", type=click.IntRange(64, 32000), help="Token budget of the block (default 800).")
@_filter_options
@click.option("--json", "as_json", is_flag=True, help="Print the whole PromptResult (prompt, citations, template …) as JSON.")
@click.pass_obj
def prompt(
    state: Any,
    situation: str,
    k: int,
    fmt: str,
    max_tokens: int | None,
    setting: str | None,
    kinds: tuple[str, ...],
    sources: tuple[str, ...],
    labels: tuple[str, ...],
    country: str | None,
    facts: tuple[str, ...],
    as_json: bool,
) -> None:
    """A context block for an agent's prompt: the items most relevant to SITUATION, grouped, conflicts
    flagged, each with a citation id. The block goes to stdout; a one-line summary to stderr."""
    result = state.reader().prompt(
        situation, k, fmt, max_tokens, _filters(setting, kinds, sources, labels, country), list(facts) or None
    )
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    click.echo(result.prompt)
    click.echo(
        f"{result.template}: {len(result.citations)} items, ~{result.tokens} of {result.max_tokens} tokens, "
        f"{len(result.conflicts)} conflicts, {result.near_duplicates_removed} near-duplicates removed, "
        f"{result.omitted} left out for the budget",
        err=True,
    )


# --- MCP ----------------------------------------------------------------------------------------------------


@click.command()
@click.option("--transport", type=click.Choice(MCP_TRANSPORTS), default="stdio", show_default=True)
@click.option("--host", help="With streamable-http: address to bind (default NORMGRAPH_HOST).")
@click.option("--port", type=click.IntRange(1, 65535), help="With streamable-http: port (default NORMGRAPH_PORT); the endpoint is /mcp.")
@click.pass_obj
def mcp(state: Any, transport: str, host: str | None, port: int | None) -> None:
    """Serve the bank to agents over the Model Context Protocol (tools: search_norms, norms_for_setting,
    get_norm, list_settings, build_prompt). Opens the store read-only."""
    from normgraph.mcp_server import run

    run(state.settings(), transport, host=host, port=port)  # type: ignore[arg-type]


COMMANDS = (index, retrieve, prompt, mcp)
