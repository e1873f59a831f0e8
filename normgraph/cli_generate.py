"""The generator commands of the ``normgraph`` CLI: ``generate`` (propose norms for a frame) and ``answer``
(a question answered from the bank with checked citations). ``normgraph.cli`` adds them to its group, as it
does the retrieval commands; errors are ``NormgraphError``s, printed as one line with exit status 1.

``--backend``, ``--model`` and ``--base-url`` override the ``NORMGRAPH_GENERATOR_*`` settings for one run.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from normgraph.frames.grammar import format_frame


def _backend_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--backend", help="Generator backend: transformers or openai (default NORMGRAPH_GENERATOR_BACKEND)."),
        click.option("--model", help="Generator model (default NORMGRAPH_GENERATOR_MODEL)."),
        click.option("--base-url", help="openai backend: the endpoint (default NORMGRAPH_GENERATOR_BASE_URL)."),
        click.option("--seed", type=click.IntRange(0, 2**31 - 1), help="Fix the sample (default: random, and reported)."),
        click.option("--temperature", type=click.FloatRange(0, 2), help="Sampling temperature; 0 decodes greedily."),
        click.option("--max-new-tokens", type=click.IntRange(1, 1024), help="Tokens the model may write per sample."),
        click.option("--json", "as_json", is_flag=True, help="Print the whole result as JSON."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _service(state: Any, backend: str | None, model: str | None, base_url: str | None) -> Any:
    return state.service(generator_backend=backend, generator_model=model, generator_base_url=base_url)


@click.command()
@click.option("--setting", "-s", required=True, help="Setting name or alias.")
@click.option("--behavior", "-b", help="The behaviour judged; leave out to let the model choose.")
@click.option("--fact", "-f", "facts", multiple=True, metavar="CONSTRAINT", help="A condition every proposal keeps, in NormBank grammar; repeat for several.")
@click.option("-n", "n", type=click.IntRange(1, 10), default=3, show_default=True, help="How many proposals to sample.")
@click.option("--dry-run", is_flag=True, help="Show the proposals without storing them.")
@_backend_options
@click.pass_obj
def generate(
    state: Any,
    setting: str,
    behavior: str | None,
    facts: tuple[str, ...],
    n: int,
    dry_run: bool,
    backend: str | None,
    model: str | None,
    base_url: str | None,
    seed: int | None,
    temperature: float | None,
    max_new_tokens: int | None,
    as_json: bool,
) -> None:
    """Propose labelled norms for a frame. New ones are stored as `proposed` (they answer no query until a
    curator approves them); duplicates of the bank are dropped. A summary goes to stderr."""
    service = _service(state, backend, model, base_url)
    result = service.generate(
        setting, behavior, list(facts), n, seed=seed, temperature=temperature, max_new_tokens=max_new_tokens, store=not dry_run
    )
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    else:
        from normgraph.cli import _table

        rows = [
            (p.norm.id, p.norm.label.value, p.norm.behavior, format_frame(p.norm.constraints) or "-", p.norm.text)
            for p in result.proposals
        ]
        click.echo(_table(("id", "label", "behaviour", "frame", "text"), rows) if rows else "no new proposal")
        for d in result.duplicates:
            click.echo(f"duplicate of {d.duplicate_of} ({d.review_state}, similarity {d.similarity:.3f}): {d.text}", err=True)
        for i in result.invalid:
            click.echo(f"invalid (attempt {i.attempt}): {i.reason}", err=True)
    click.echo(
        f"{result.template} on {result.model}: {len(result.proposals)} proposed"
        f"{'' if dry_run else f', {result.stored} stored'}, {len(result.duplicates)} duplicates, "
        f"{len(result.invalid)} invalid; seed {result.decoding.seed}, {result.attempts} round(s), {result.seconds:.1f}s",
        err=True,
    )


@click.command()
@click.argument("question")
@click.option("--setting", "-s", help="Only context from this setting or a broader one.")
@click.option("--fact", "-f", "facts", multiple=True, metavar="CONSTRAINT", help="With --setting: what holds, in NormBank grammar.")
@click.option("-k", "k", type=click.IntRange(1, 100), default=6, show_default=True, help="At most this many context items.")
@_backend_options
@click.pass_obj
def answer(
    state: Any,
    question: str,
    setting: str | None,
    facts: tuple[str, ...],
    k: int,
    backend: str | None,
    model: str | None,
    base_url: str | None,
    seed: int | None,
    temperature: float | None,
    max_new_tokens: int | None,
    as_json: bool,
) -> None:
    """Answer QUESTION from the bank's retrieved context, citing ids; every cited id is checked against that
    context (invented ones are removed and reported, uncited sentences flagged)."""
    service = _service(state, backend, model, base_url)
    result = service.answer(
        question, setting, list(facts) or None, k=k, seed=seed, temperature=temperature, max_new_tokens=max_new_tokens
    )
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    click.echo(result.answer)
    if result.citations:
        click.echo("\ncited:")
        for c in result.citations:
            click.echo(f"  [{c.id}] {c.text}")
    if result.invented_ids:
        click.echo(f"removed ids not in the context: {', '.join(result.invented_ids)}", err=True)
    if result.uncited:
        click.echo(f"{len(result.uncited)} sentence(s) cite nothing from the context", err=True)
    click.echo(f"{result.template} on {result.model}: seed {result.decoding.seed}, {result.seconds:.1f}s", err=True)


COMMANDS = (generate, answer)
