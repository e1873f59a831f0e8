"""`normgraph train retriever` and its pieces on real components: a tiny BERT built from a config in seconds
(the stock tokenizer, random weights) trained for real with MultipleNegativesRankingLoss, the weight patch
round trip, and the CLI on a real store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from normgraph.embed.splits import split_of
from normgraph.embed.train import Pair, _batches, evaluate, pairs_from_statements

TOPICS = [
    "a funeral", "a library", "the office", "a wedding", "the gym", "a restaurant", "a train", "the beach",
    "a hospital", "a classroom", "a concert", "a museum", "the cinema", "a bakery", "the airport", "a park",
    "a church", "the zoo", "a bus", "a market", "the pool", "a hotel", "the bank", "a theatre",
]
# Query and rule share only the topic word(s): a random encoder cannot tell the pairs apart by surface form
# better than chance, so ranking them is something training has to learn.
PAIRS = [Pair(f"my phone rang loudly during {t}", f"Be quiet and considerate of others at {t}.", f"s{i}") for i, t in enumerate(TOPICS)]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide BERT with mean pooling and Normalize, saved as a sentence-transformers folder."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import AutoTokenizer, BertConfig, BertModel

    from normgraph.embed.model_files import resolve_model

    root = tmp_path_factory.mktemp("tiny")
    tok = AutoTokenizer.from_pretrained(str(resolve_model("all-MiniLM-L6-v2")[1]))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(str(root / "hf"))
    tok.save_pretrained(str(root / "hf"))
    st = SentenceTransformer(modules=[models.Transformer(str(root / "hf"), max_seq_length=48), models.Pooling(32, "mean"), models.Normalize()], device="cpu")
    st.save(str(root / "st"))
    return root / "st"


def _encoder(path: Path):
    from normgraph.embed import open_embedder

    return open_embedder(str(path), backend="torch", threads=1).encode


def test_split_is_three_way_by_hash_and_keeps_dev_as_it_was() -> None:
    import hashlib

    texts = [f"situation number {i}" for i in range(3000)]
    sides = [split_of(t) for t in texts]
    share = {s: sides.count(s) / len(sides) for s in ("dev", "train", "test")}
    assert 0.17 < share["dev"] < 0.23 and 0.36 < share["train"] < 0.44 and 0.36 < share["test"] < 0.44
    # dev is exactly the benchmark's old dev split (first byte < 51), so its tuned fusion weights stay valid
    assert all((s == "dev") == (hashlib.sha256(t.encode()).digest()[0] < 51) for t, s in zip(texts, sides))


def test_pairs_follow_their_situation_and_batches_hold_no_duplicates() -> None:
    from types import SimpleNamespace as S

    rows = [S(text=f"rule {i % 7}", situation=f"situation {i % 11}", action=f"action {i % 5}") for i in range(60)]
    rows.append(S(text="no situation", situation=None, action=None))
    pairs = pairs_from_statements(rows)
    assert {p.kind for p in pairs} == {"situation", "action"}
    assert all(p.split == split_of(p.group) and p.group.startswith("situation") for p in pairs)
    import random

    for batch in _batches(pairs, 8, random.Random(0)):
        for field in ("query", "positive", "group"):
            values = [getattr(p, field) for p in batch]
            assert len(values) == len(set(values)), field


@pytest.mark.slow  # 80 real training steps: ~10 s on a quiet machine, ~40 s on a busy one
def test_training_teaches_the_tiny_model_its_pairs(tiny_model: Path, tmp_path: Path) -> None:
    from normgraph.embed.train import train_retriever, write_card
    from normgraph.embed.model_files import fingerprint

    corpus = [p.positive for p in PAIRS]
    before = evaluate(_encoder(tiny_model), PAIRS, corpus)
    report = train_retriever(PAIRS, tmp_path / "tuned", base=str(tiny_model), layers=None, epochs=40, batch_size=12,
                             lr=2e-3, seed=0, progress=False)
    after = evaluate(_encoder(tmp_path / "tuned"), PAIRS, corpus)
    assert report.loss_last < 0.75 * report.loss_first
    assert after["MRR"] > before["MRR"] + 0.2 and after["R@1"] > before["R@1"]
    # the token embeddings are frozen: trained models stay patchable over their base
    from safetensors.numpy import load_file

    a, b = load_file(str(tiny_model / "model.safetensors")), load_file(str(tmp_path / "tuned" / "model.safetensors"))
    assert np.array_equal(a["embeddings.word_embeddings.weight"], b["embeddings.word_embeddings.weight"])
    assert not np.array_equal(a["encoder.layer.1.output.dense.weight"], b["encoder.layer.1.output.dense.weight"])

    # Re-training into the same folder leaves every file the same size, which is all the fingerprint reads of
    # weights: the card's manifest carries their hash, so the second model is another vector space.
    write_card(tmp_path / "tuned", report, data="24 test pairs")
    assert "MultipleNegativesRankingLoss" in (tmp_path / "tuned" / "README.md").read_text()
    first = fingerprint(tmp_path / "tuned")
    again = train_retriever(PAIRS, tmp_path / "tuned", base=str(tiny_model), layers=None, max_steps=2, batch_size=12,
                            lr=2e-3, seed=1, progress=False)
    write_card(tmp_path / "tuned", again, data="24 test pairs")
    assert fingerprint(tmp_path / "tuned") != first


def test_top_layers_only_and_patch_round_trip(tiny_model: Path, tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    from normgraph.embed.patch import assemble, make_patch
    from normgraph.embed.train import train_retriever

    train_retriever(PAIRS, tmp_path / "top1", base=str(tiny_model), layers=1, max_steps=3, batch_size=12, lr=1e-3, progress=False)
    manifest = make_patch(tiny_model, tmp_path / "top1", tmp_path / "p" / "top1.safetensors", {"base": "tiny"})
    changed = load_file(str(tmp_path / "p" / "top1.safetensors"))
    assert changed and all(k.startswith("encoder.layer.1.") for k in changed), sorted(changed)
    assert all(v.dtype == np.float16 for v in changed.values())
    assert manifest["tensors"] == len(changed)

    folder = assemble(tmp_path / "p" / "top1.safetensors", tiny_model, tmp_path / "assembled")
    assert assemble(tmp_path / "p" / "top1.safetensors", tiny_model, tmp_path / "assembled") == folder  # made once
    texts = [p.query for p in PAIRS] + [p.positive for p in PAIRS]
    tuned, rebuilt = _encoder(tmp_path / "top1")(texts), _encoder(folder)(texts)
    assert float(np.min(np.sum(tuned * rebuilt, axis=1))) > 0.999  # only fp16 rounding between them
    base = _encoder(tiny_model)(texts)
    assert float(np.min(np.sum(base * rebuilt, axis=1))) < 0.9999  # and the patch did change something

    # a patch refuses other base weights than the ones it was made over
    with pytest.raises(ValueError, match="other weights"):
        assemble(tmp_path / "p" / "top1.safetensors", tmp_path / "top1", tmp_path / "elsewhere")


@pytest.mark.slow  # a real store, an ingest and training through the CLI
def test_cli_trains_on_the_banks_own_rules(tiny_model: Path, tmp_path: Path) -> None:
    from normgraph.cli import cli

    home = tmp_path / "home"
    rows = [
        {"id": f"r{i}", "kind": "rule_of_thumb", "label": "expected", "text": p.positive, "situation": p.query + f" ({i})",
         "action": f"staying quiet at {TOPICS[i % len(TOPICS)]} ({i})"}
        for i, p in enumerate(PAIRS * 4)
    ]
    src = tmp_path / "rules.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runner = CliRunner()
    loaded = runner.invoke(cli, ["--home", str(home), "ingest", "jsonl", str(src), "--no-embed", "--no-progress"])
    assert loaded.exit_code == 0, loaded.output
    out = tmp_path / "model"
    result = runner.invoke(cli, ["--home", str(home), "train", "retriever", "--base", str(tiny_model), "--layers", "all",
                                 "--max-steps", "4", "--batch-size", "8", "--out", str(out), "--patch", str(tmp_path / "patch.safetensors"),
                                 "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["steps"] == 4 and report["layers"] == "all"
    train_pairs = [r for r in rows if split_of(r["situation"]) == "train"]
    assert report["pairs"] == 2 * len(train_pairs)  # situation and action of train situations only
    card = (out / "README.md").read_text()
    assert "dev situations" in card and "test actions" in card and "| tuned |" in card
    assert (tmp_path / "patch.json").is_file()

    empty = runner.invoke(cli, ["--home", str(tmp_path / "empty"), "train", "retriever", "--no-progress"])
    assert empty.exit_code == 1 and "no training pairs" in empty.output
    bad = runner.invoke(cli, ["--home", str(home), "train", "retriever", "--layers", "none"])
    assert bad.exit_code == 2


TUNED_MODEL = "normgraph-minilm-l6-sc101"  # shipped opt-in (ADR 0008's amendment), not the default


def test_the_shipped_tuned_model_is_its_patch_over_the_stock_weights(tmp_path: Path) -> None:
    from safetensors.numpy import load_file

    from normgraph.embed import open_embedder
    from normgraph.embed.model_files import TUNED, model_id_of, resolve_model
    from normgraph.embed.patch import MANIFEST, assemble, sha256_file

    name, folder = resolve_model(TUNED_MODEL)
    _, stock = resolve_model("all-MiniLM-L6-v2")
    assert TUNED_MODEL in TUNED and (folder / MANIFEST).is_file()
    assert TUNED[TUNED_MODEL].stat().st_size < 10_000_000  # small enough to live in the repository
    assert model_id_of(TUNED_MODEL, "onnx").split("@")[0] == TUNED_MODEL != model_id_of("all-MiniLM-L6-v2", "onnx").split("@")[0]
    # only the top layers differ from the stock weights, and assembling again gives the same bytes
    a, b = load_file(str(stock / "model.safetensors")), load_file(str(folder / "model.safetensors"))
    differ = {k.split(".")[2] for k in a if not np.array_equal(a[k], b[k])}
    assert differ == {"4", "5"}
    again = assemble(TUNED[TUNED_MODEL], stock, tmp_path / "again")
    assert sha256_file(again / "model.safetensors") == sha256_file(folder / "model.safetensors")
    # a working encoder, not weights garbled on the way: the rule for an action beats an unrelated one
    action, rule, other = "ignoring my phone at my grandfather's funeral", "It's rude to answer your phone at a funeral.", "It's good to tip your waiter."
    v = open_embedder(TUNED_MODEL, backend="onnx", home=tmp_path, threads=1).encode([action, rule, other])
    assert float(v[0] @ v[1]) > float(v[0] @ v[2]) + 0.2
