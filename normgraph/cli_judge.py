"""The judge's commands of the ``normgraph`` CLI: ``judge`` (one behaviour) and ``train judge`` (retrain the
heads from the public data files). ``normgraph.cli`` adds them to its group, as it does the retrieval ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from normgraph.judge.schemas import parse_norm


@click.command()
@click.argument("behavior")
@click.option("--setting", "-s", help="Setting name or alias, e.g. restaurant (enables frame resolution).")
@click.option("--fact", "-f", "facts", multiple=True, metavar="CONSTRAINT",
              help="A fact in NormBank grammar, e.g. \"[PERSON]'s role is 'customer'\"; repeat for several.")
@click.option("--norm", "-n", "norms", multiple=True, metavar="NORM",
              help="A norm to follow over the bank's, e.g. \"It's rude to X\", or \"expected: X\" with a label; repeat for several.")
@click.option("--country", help="Where the behaviour happens.")
@click.option("--model", "model", type=click.Path(path_type=Path),
              help="Judge model directory (judge.npz + model_card.json); default NORMGRAPH_JUDGE_MODEL or the shipped one.")
@click.option("--json", "as_json", is_flag=True, help="Print the JudgeResult as JSON.")
@click.pass_obj
def judge(state: Any, behavior: str, setting: str | None, facts: tuple[str, ...], norms: tuple[str, ...],
          country: str | None, model: Path | None, as_json: bool) -> None:
    """Is BEHAVIOR expected, okay or unexpected? Prints the label, the scores, the stage that decided and
    its evidence."""
    service = state.service(judge_model=model) if model is not None else state.service()
    request = {"behavior": behavior, "setting": setting, "facts": list(facts) or None,
               "norms": [parse_norm(n) for n in norms] or None, "country": country}
    result = service.judge.judge({k: v for k, v in request.items() if v is not None})
    if as_json:
        click.echo(result.model_dump_json(indent=2))
        return
    s = result.scores
    click.echo(f"{result.label.value}  (expected {s.expected:.2f}, okay {s.okay:.2f}, unexpected {s.unexpected:.2f}; decided by {result.method})")
    from normgraph.cli import _table

    if result.evidence:
        rows = [(e.relation, e.label.value if e.label else "-", "" if e.relevance is None else f"{e.relevance:.2f}",
                 e.id or e.source or "", _short(e.text), e.note or "") for e in result.evidence]
        click.echo(_table(("evidence", "label", "similarity", "id", "text", "note"), rows))
    for c in result.conflicts:
        click.echo(f"conflict ({c.stage}): " + ", ".join(f"{i} {lab.value}" for i, lab in zip(c.ids, c.labels, strict=True)))
    for t in result.trace:
        click.echo(f"  {t.stage}: {t.outcome} — {t.reason}")


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@click.group()
def train() -> None:
    """Train the project's own models from data files."""


@train.command("judge")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The public data folder (its moral-stories/, ethics/, trustllm-social-chem/), e.g. ../shared/data.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Where to write judge.npz and model_card.json (load with `judge --model OUT` or NORMGRAPH_JUDGE_MODEL).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--int8-check/--no-int8-check", default=True, show_default=True,
              help="Also score the dev splits with the int8 encoder's vectors, for the model card.")
@click.pass_obj
def train_judge_cmd(state: Any, data_dir: Path, out: Path, seed: int, int8_check: bool) -> None:
    """Retrain the judge's heads (prior, relation, polarity) over fp32 embeddings of the configured model,
    calibrate them on held-in splits and write the weights with a model card. Needs torch (the `retrieval`
    extra); a few minutes on two cores, most of it encoding (cached in HOME/embeddings for reruns)."""
    from normgraph.embed import open_cached_embedder
    from normgraph.judge.train import train_judge

    settings = state.settings()
    embedder = open_cached_embedder(settings.home, settings.embedding_model, backend="onnx", threads=settings.embedding_threads)
    check = None
    if int8_check:
        check = open_cached_embedder(settings.home, settings.embedding_model, backend="onnx-int8", threads=settings.embedding_threads)
    train_judge(data_dir, out, embedder=embedder, check_embedder=check, seed=seed, log=click.echo)


COMMANDS = (judge, train)
