"""The ``normgraph`` command line: a thin shell over ``NormBankService``.

Exit statuses (documented in the README):
    0  done
    1  error: unreadable input, unknown setting or id, store locked … (message on stderr, no traceback)
    2  usage error (unknown option or source, bad value)
    3  ingest finished but some rows were rejected (the rejects file is named)
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import click

from normgraph.errors import NormgraphError
from normgraph.settings import ENV_PREFIX, Settings

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_REJECTS = 3


class Failure(click.ClickException):
    """A ``NormgraphError`` as the CLI reports it: ``Error: <message>`` on stderr, exit status 1."""

    exit_code = EXIT_ERROR


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NormgraphError as e:
            raise Failure(e.message) from None
        except OSError as e:  # unreadable or unwritable files named on the command line
            raise Failure(f"{e.filename or ''}{': ' if e.filename else ''}{e.strerror or e}") from None


class _SourceName(click.ParamType):
    """A registered ingest source; checked when used, so ``--help`` does not import every reader."""

    name = "source"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from normgraph.sources import available_sources

        known = sorted(available_sources())
        if value not in known:
            self.fail(f"unknown source {value!r}; known sources: {', '.join(known) or '(none installed)'}", param, ctx)
        return value


class _State:
    """What the group's options decided; the service is opened on first use so ``sources`` and ``--help``
    never touch the store."""

    def __init__(self, home: Path | None, store: str | None) -> None:
        self.home = home
        self.store = store
        self._service: Any = None

    def settings(self, **overrides: Any) -> Settings:
        try:
            return Settings.from_env(home=self.home, store=self.store, **overrides)
        except ValueError as e:
            raise click.UsageError(f"bad setting: {e}") from None

    def service(self, **overrides: Any) -> Any:  # a NormBankService; imported late to keep startup light
        from normgraph.services import NormBankService

        if self._service is None:
            self._service = NormBankService(self.settings(**overrides))
            click.get_current_context().call_on_close(self._service.close)
        return self._service

    def reader(self) -> Any:
        """The service for a command that only reads: when another process (a one-worker server, an ingest)
        holds the store's write lock, the store is opened read-only instead of failing."""
        from normgraph.errors import StoreLocked

        if self._service is not None:
            return self._service
        try:
            return self.service()
        except StoreLocked:
            click.echo("note: another process holds the store for writing; reading it read-only", err=True)
            return self.service(read_only=True)


pass_state = click.make_pass_decorator(_State)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="NORMGRAPH_HOME",
    help="Data home (the store lives in HOME/store). Env: NORMGRAPH_HOME.",
)
@click.option("--store", "store", metavar="NAME", help="Store backend (default: oxigraph). Env: NORMGRAPH_STORE.")
@click.version_option(package_name="normgraph")
@click.pass_context
def cli(ctx: click.Context, home: Path | None, store: str | None) -> None:
    """normgraph: a knowledge-graph norm bank."""
    ctx.obj = _State(home, store)


def main() -> None:
    # The process's, so set here and not by a library module: the torch backend tokenises through
    # `tokenizers`' thread pool, which warns in every process forked after it was used (the ONNX backend
    # tokenises one text at a time and never starts it).
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    cli(prog_name="normgraph")


# --- ingest ---------------------------------------------------------------------------------------------


def _print_summary(s: Any, out: Callable[[str], None] = click.echo) -> None:
    out(
        f"{s.source}: {s.path}: read {s.read}, loaded {s.loaded}, updated {s.updated}, "
        f"duplicates {s.duplicates}, concepts {s.concepts}, rejected {s.rejected} ({s.seconds:.1f}s)"
    )


@cli.command()
@click.argument("source", type=_SourceName())
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path), help="Where rejected rows go (JSONL).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option(
    "--embed/--no-embed",
    default=None,
    help="Bring the retrieval index up to date afterwards (default: NORMGRAPH_EMBED_ON_INGEST, on); "
    "--no-embed defers it to `normgraph index build`.",
)
@pass_state
def ingest(state: _State, source: str, path: Path, rejects: Path | None, progress: bool, embed: bool | None) -> None:
    """Load PATH with the SOURCE reader (see `normgraph sources`). Re-ingesting the same file is a no-op.

    Exits 3 when the input was loaded but some rows were rejected."""
    from normgraph.cli_retrieval import embed_wanted, update_index

    service = state.service()
    embed = embed_wanted(service, embed)
    summary = service.ingest(source, path, rejects_path=rejects, progress=progress, embed=False)
    _print_summary(summary)
    if embed:
        update_index(service, bool(summary.loaded or summary.updated), progress)
    if summary.rejected:
        click.echo(f"{summary.rejected} row(s) rejected: see {summary.rejects_path}", err=True)
        click.get_current_context().exit(EXIT_REJECTS)


@cli.command()
def sources() -> None:
    """List the installed ingest sources with what they expect."""
    from normgraph.sources import available_sources

    from normgraph.source_registry import source_info

    for name, src in available_sources().items():
        click.echo(f"{name}\n    {src.description}")
        if src.columns:
            click.echo(f"    columns: {', '.join(src.columns)}")
        info = source_info(name)
        if info is not None:
            click.echo(f"    licence: {info.licence}" + (" (share-alike)" if info.share_alike else ""))


@cli.command()
@click.option(
    "--taxonomy",
    type=click.Path(file_okay=False, path_type=Path),
    help="NormBank taxonomy directory (default: NORMGRAPH_TAXONOMY_DIR; `make serve` sets it when the shared data is beside the checkout).",
)
@click.option("--no-taxonomy", is_flag=True, help="Load only the demo bank and its own small taxonomy.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the store already holds statements.")
@click.option("--progress/--no-progress", default=True, help="Show progress bars.")
@click.option(
    "--embed/--no-embed",
    default=None,
    help="Build the retrieval index if it is missing or out of date (default: NORMGRAPH_EMBED_ON_INGEST, on).",
)
@pass_state
def demo(
    state: _State, taxonomy: Path | None, no_taxonomy: bool, if_empty: bool, progress: bool, embed: bool | None
) -> None:
    """Load the demo bank (and the NormBank taxonomy when available), then build the retrieval index."""
    from normgraph.cli_retrieval import embed_wanted, update_index

    service = state.service()
    embed = embed_wanted(service, embed)
    summaries = service.load_demo(
        taxonomy, if_empty=if_empty, with_taxonomy=not no_taxonomy, progress=progress, embed=False
    )
    if not summaries:
        click.echo(f"store at {service.settings.store_path} already holds statements; nothing loaded")
        if embed:
            update_index(service, False, progress)
        return
    for s in summaries:
        _print_summary(s)
    if embed:
        update_index(service, any(s.loaded or s.updated for s in summaries), progress)
    rejected = [s for s in summaries if s.rejected]
    if rejected:
        for s in rejected:
            click.echo(f"{s.rejected} row(s) rejected: see {s.rejects_path}", err=True)
        click.get_current_context().exit(EXIT_REJECTS)


# --- reading --------------------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers], *[[("" if v is None else str(v)) for v in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@cli.command()
@click.option("--setting", "-s", help="Setting name or alias, e.g. restaurant.")
@click.option(
    "--situation",
    metavar="ID|TEXT",
    help="Instead of a setting: a situation (its id or its text) with the rules of thumb, values, rights, "
    "duties and norms linked to it.",
)
@click.option("--behavior", "-b", help="Only this behaviour (or an alias of it).")
@click.option(
    "--fact",
    "-f",
    "facts",
    multiple=True,
    metavar="CONSTRAINT",
    help="A fact in NormBank grammar, e.g. \"[PERSON]'s role is 'customer'\"; repeat for several.",
)
@click.option("--limit", type=click.IntRange(min=1), help="Behaviours per page (default NORMGRAPH_PAGE_LIMIT).")
@click.option("--cursor", help="Continue after a previous page (its next_cursor).")
@click.option("--all", "all_pages", is_flag=True, help="Every behaviour of the setting, not one page.")
@click.option("--json", "as_json", is_flag=True, help="Print the QueryResult as JSON.")
@pass_state
def query(
    state: _State,
    setting: str | None,
    situation: str | None,
    behavior: str | None,
    facts: tuple[str, ...],
    limit: int | None,
    cursor: str | None,
    all_pages: bool,
    as_json: bool,
) -> None:
    """What holds in a setting, given facts: the resolved label per behaviour with its evidence. With
    --situation: what the graph links to a situation."""
    if (setting is None) == (situation is None):
        raise click.UsageError("give --setting (with --behavior/--fact) or --situation")
    service = state.reader()
    if situation is not None:
        if behavior or facts or cursor or all_pages:
            raise click.UsageError("--situation takes no --behavior, --fact, --cursor or --all")
        _print_situation(service.situation(situation, limit=limit), as_json)
        return
    assert setting is not None
    result = service.query(setting, behavior, list(facts), limit=limit, cursor=cursor)
    if all_pages:
        pages = [result]
        while pages[-1].next_cursor:
            pages.append(service.query(setting, behavior, list(facts), limit=limit, cursor=pages[-1].next_cursor))
        result = result.model_copy(update={"results": [r for p in pages for r in p.results], "next_cursor": None})
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    click.echo(f"setting: {' < '.join(result.setting_chain) or result.setting}")
    if result.facts:
        click.echo("facts:   " + "\n         ".join(result.facts))
    if not result.results:
        click.echo("no norms about this" + (" behaviour" if behavior else " setting"))
        return
    rows = [
        (
            r.behavior,
            r.label.value if r.label else "-",
            r.basis,
            f"{r.confidence:.2f}",
            len(r.norms),
            len(r.defeated),
            len(r.conditional),
            "CONFLICT" if r.conflict else "",
        )
        for r in result.results
    ]
    click.echo(_table(("behaviour", "label", "basis", "confidence", "norms", "defeated", "conditional", "conflict"), rows))
    if result.next_cursor:
        click.echo(f"more behaviours: --cursor {result.next_cursor}  (or --all)")


def _print_situation(view: Any, as_json: bool) -> None:
    if as_json:
        click.echo(view.model_dump_json(indent=2))
        return
    click.echo(f"situation: {view.text}")
    click.echo(f"id:        {view.id}")
    if view.aliases:
        click.echo("aliases:   " + "; ".join(view.aliases))
    sections = (
        ("rules of thumb", view.rules_of_thumb, lambda s: (s.label.value if s.label else "-")),
        ("values", view.values, lambda s: s.valence.value),
        ("rights", view.rights, lambda s: s.valence.value),
        ("duties", view.duties, lambda s: s.valence.value),
        ("norms", view.norms, lambda s: s.label.value),
    )
    for title, items, judged in sections:
        if not items:
            continue
        click.echo(f"\n{title} ({len(items)}):")
        click.echo(_table(("id", "judged", "source", "text"),
                          [(s.id, judged(s), s.provenance.source, _short_text(s.text)) for s in items]))
    if view.behaviors:
        click.echo("\nbehaviours judged: " + "; ".join(f"{b.label} ({b.statements})" for b in view.behaviors))
    if view.as_behavior:
        click.echo(f"\nabout the behaviour '{view.text}' elsewhere ({len(view.as_behavior)}):")
        click.echo(_table(("id", "kind", "source", "text"),
                          [(s.id, s.kind.value, s.provenance.source, _short_text(s.text)) for s in view.as_behavior]))
    if view.attribution:
        click.echo("\nsources:\n" + "\n".join(f"  {a}" for a in view.attribution))


def _short_text(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
@pass_state
def stats(state: _State, as_json: bool) -> None:
    """Counts of statements (by kind, source, label, setting) and concepts."""
    st = state.reader().stats()
    if as_json:
        click.echo(st.model_dump_json(indent=2))
        return
    click.echo(f"statements: {st.statements}")
    sections = (("by kind", st.by_kind), ("by source", st.by_source), ("by label", st.by_label), ("concepts", st.concepts))
    for title, counts in sections:
        if counts:
            click.echo(f"{title}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    top = sorted(st.by_setting.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    if top:
        click.echo("top settings: " + ", ".join(f"{k} {v}" for k, v in top))


@cli.command("settings")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines, one setting each.")
@pass_state
def settings_cmd(state: _State, as_json: bool) -> None:
    """List the settings of the bank with their norm counts."""
    service = state.reader()
    rows = []
    for s in _all_settings(service):
        if as_json:
            click.echo(s.model_dump_json())
        else:
            rows.append((s.name, s.norm_count, ", ".join(s.broader), ", ".join(s.alt_labels)))
    if not as_json:
        click.echo(_table(("setting", "norms", "broader", "aliases"), rows) if rows else "no settings")


def _all_settings(service: Any) -> Iterator[Any]:
    cursor = None
    while True:
        page = service.list_settings(limit=service.settings.max_page_limit, cursor=cursor)
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["turtle", "jsonld", "ntriples"]), default="turtle", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="File to write (default stdout).")
@pass_state
def export(state: _State, fmt: str, output: Path | None) -> None:
    """Export the whole bank as RDF with the normgraph ontology."""
    service = state.reader()
    if output is None:
        sys.stdout.flush()
        service.export(fmt, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    try:
        with output.open("wb") as out:
            service.export(fmt, out)
    except OSError as e:
        raise Failure(f"{output}: {e.strerror or e}") from None
    click.echo(f"wrote {output}", err=True)


# --- serving --------------------------------------------------------------------------------------------


@cli.command()
@click.option("--host", help="Address to bind (default NORMGRAPH_HOST or 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default NORMGRAPH_PORT or 8000).")
@click.option("--workers", type=click.IntRange(1, 64), help="Worker processes (default NORMGRAPH_WORKERS or 1).")
@click.option(
    "--access-log/--no-access-log",
    default=False,
    show_default=True,
    help="uvicorn's per-request log line (costs throughput).",
)
@pass_state
def serve(state: _State, host: str | None, port: int | None, workers: int | None, access_log: bool) -> None:
    """Serve the HTTP API (docs at /docs). With several workers every worker opens the store read-only
    (docs/decisions/0002-multiworker-read-only.md)."""
    import uvicorn

    settings = state.settings(host=host, port=port, workers=workers)
    if settings.workers > 1:
        settings = settings.model_copy(update={"read_only": True})
    # Fail here with one clear line (store locked, no store yet) rather than in every worker's startup.
    from normgraph.services import NormBankService

    NormBankService(settings).close()
    # The workers build their settings from the environment (the app factory is an import string, so
    # normgraph never imports api); hand every resolved setting down that way.
    for name, value in settings.model_dump().items():
        if value is not None:
            os.environ[ENV_PREFIX + name.upper()] = _env_value(value)
    click.echo(
        f"serving {settings.store_path} on http://{settings.host}:{settings.port} "
        f"({settings.workers} worker{'s' if settings.workers > 1 else ''}"
        f"{', read-only' if settings.read_only else ''}); docs at /docs",
        err=True,
    )
    from normgraph.cli_retrieval import serving_note

    click.echo(serving_note(settings), err=True)
    # Spawned workers read this at start: glibc otherwise gives each of a worker's request threads its own
    # malloc arena, which held ~110 MB more per worker after a burst of retrieval requests
    # (docs/decisions/0006-retrieval-http.md).
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        access_log=access_log,
        log_level="info",
    )


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


# --- retrieval: index build|status|verify, retrieve, prompt, mcp (normgraph/cli_retrieval.py) -------------
def _add_retrieval_commands() -> None:
    from normgraph.cli_retrieval import COMMANDS

    for command in COMMANDS:
        cli.add_command(command)


_add_retrieval_commands()


# --- judge and train judge (normgraph/cli_judge.py) --------------------------------------------------------
def _add_judge_commands() -> None:
    from normgraph.cli_judge import COMMANDS

    for command in COMMANDS:
        _add_or_merge(command)


# --- the generator: generate, answer (normgraph/cli_generate.py) ------------------------------------------
def _add_generator_commands() -> None:
    from normgraph.cli_generate import COMMANDS

    for command in COMMANDS:
        _add_or_merge(command)


def _add_or_merge(command: click.Command) -> None:
    """Add a command; a group another module already added (``train``) gets this one's subcommands."""
    existing = cli.commands.get(command.name or "")
    if isinstance(existing, click.Group) and isinstance(command, click.Group):
        for sub in command.commands.values():
            existing.add_command(sub)
    else:
        cli.add_command(command)



# --- training: train retriever (normgraph/cli_train.py) ---------------------------------------------------
def _add_training_commands() -> None:
    from normgraph.cli_train import COMMANDS

    for command in COMMANDS:
        _add_or_merge(command)



_add_judge_commands()
_add_generator_commands()
_add_training_commands()


if __name__ == "__main__":  # pragma: no cover
    main()
