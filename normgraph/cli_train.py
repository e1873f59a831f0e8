"""The training commands of the ``normgraph`` CLI: ``train retriever`` fine-tunes the retrieval encoder on the
bank's own (situation or action -> statement) pairs.

Registered by ``normgraph.cli`` like ``cli_retrieval``; torch and sentence-transformers load only inside
``normgraph.embed.train``, once the command runs.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from normgraph.embed.base import STOCK_MODEL


class _Layers(click.ParamType):
    name = "N|all"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | None:
        if value is None or isinstance(value, int):
            return value
        if str(value).lower() == "all":
            return None
        try:
            n = int(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number of layers nor 'all'", param, ctx)
        if n < 1:
            self.fail("at least one layer must train", param, ctx)
        return n


@click.group()
def train() -> None:
    """Fine-tune models on the bank's own data."""


@train.command("retriever")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path),
    help="Where the model folder goes (default HOME/models/tuned-retriever). Point NORMGRAPH_EMBEDDING_MODEL at it.",
)
@click.option("--base", default=STOCK_MODEL, show_default=True, help="The sentence-transformers model to start from.")
@click.option("--layers", type=_Layers(), default="2", show_default=True, help="How many top transformer layers train, or 'all' (token embeddings never do).")
@click.option("--epochs", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True)
@click.option("--batch-size", type=click.IntRange(2), default=64, show_default=True, help="Pairs per step; the others in a batch are each pair's negatives.")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=1e-4, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--max-steps", type=click.IntRange(0), default=0, help="Stop after this many steps (0: as many as --epochs gives).")
@click.option("--threads", type=click.IntRange(1), default=1, show_default=True, help="torch threads (1 is fastest on a busy 2-core machine).")
@click.option("--source", "sources", multiple=True, metavar="NAME", help="Only statements of this source; repeat for several.")
@click.option("--patch", type=click.Path(dir_okay=False, path_type=Path), help="Also write the changed tensors (fp16) as a patch over --base, with its manifest beside it.")
@click.option("--eval/--no-eval", "do_eval", default=True, show_default=True, help="Measure dev and test recall before and after (into the model card).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the training report as JSON.")
@click.pass_obj
def train_retriever_cmd(
    state: Any,
    out: Path | None,
    base: str,
    layers: int | None,
    epochs: float,
    batch_size: int,
    lr: float,
    seed: int,
    max_steps: int,
    threads: int,
    sources: tuple[str, ...],
    patch: Path | None,
    do_eval: bool,
    progress: bool,
    as_json: bool,
) -> None:
    """Fine-tune the retrieval encoder on the bank's (situation or action -> statement) pairs with in-batch
    negatives (MultipleNegativesRankingLoss), on the train split only: a situation is dev, train or test by
    the SHA-256 of its text (normgraph/embed/splits.py), so dev and test situations are never trained on.
    Writes a sentence-transformers folder with a model card; set NORMGRAPH_EMBEDDING_MODEL to it and run
    `normgraph index build`."""
    from normgraph.embed.train import evaluate, pairs_from_statements, train_retriever, write_card

    service = state.service()
    statements = [s for s in service.store.iter_statements() if not sources or s.provenance.source in sources]
    pairs = pairs_from_statements(statements)
    by_split: dict[str, list] = {"train": [], "dev": [], "test": []}
    for p in pairs:
        by_split[p.split].append(p)
    if not by_split["train"]:
        raise click.ClickException(
            f"no training pairs: of {len(statements)} statements, none in the train split has a situation or an "
            "action (Social-Chem-101 rules of thumb have both: `normgraph ingest social-chem FILE`)"
        )
    out = out or service.settings.home / "models" / "tuned-retriever"
    click.echo(
        f"pairs: {len(by_split['train']):,} train, {len(by_split['dev']):,} dev, {len(by_split['test']):,} test "
        f"from {len(statements):,} statements",
        err=True,
    )
    corpus = sorted({s.text for s in statements})
    metrics: dict[str, Any] = {}

    def measure(which: str, model: str) -> None:
        from normgraph.embed import open_embedder

        embedder = open_embedder(model, backend="torch", threads=threads)
        vectors = embedder.encode(corpus)
        for split in ("dev", "test"):
            for kind in ("situation", "action"):
                chosen = [p for p in by_split[split] if p.kind == kind]
                if chosen:
                    metrics[f"{split} {kind}s/{which}"] = evaluate(embedder.encode, chosen, corpus, corpus_vectors=vectors)

    if do_eval:
        measure("base", base)
    report = train_retriever(
        by_split["train"], out, base=base, layers=layers, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
        max_steps=max_steps, threads=threads, progress=progress,
    )
    if do_eval:
        measure("tuned", str(out))
    report.metrics = dict(sorted(metrics.items()))
    source_names = sorted({s.provenance.source for s in statements})
    data = (
        f"{len(by_split['train']):,} (situation or action -> statement) pairs of the train split, from the "
        f"{len(statements):,} statements of the bank at {service.settings.home} (sources: {', '.join(source_names)})."
    )
    write_card(out, report, data=data, command="normgraph " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    if patch is not None:
        from normgraph.embed.model_files import resolve_model
        from normgraph.embed.patch import make_patch

        manifest = make_patch(
            resolve_model(base)[1], out, patch,
            {"base": report.base, "card": (out / "README.md").read_text(), "train": report.as_dict()},
        )
        click.echo(f"patch: {patch} ({manifest['tensors']} tensors, {manifest['bytes'] / 1e6:.1f} MB)", err=True)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(
        f"trained {report.steps} steps ({report.layers}) in {report.seconds:.0f}s: loss {report.loss_first:.3f} -> "
        f"{report.loss_last:.3f}; model at {out}"
    )
    for key, m in report.metrics.items():
        click.echo(f"  {key}: R@1 {m['R@1']:.3f}  R@10 {m['R@10']:.3f}  MRR {m['MRR']:.3f}  ({m['queries']:,} queries)")
    click.echo(f"use it: NORMGRAPH_EMBEDDING_MODEL={out} normgraph index build")


COMMANDS = (train,)
