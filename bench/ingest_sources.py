"""Ingest benchmark for the source readers (no embeddings: ingest computes none).

Prints, on this machine:
  - for every reader on its shared files (../shared/data): rows, seconds and rows/s of the whole ingest into a
    fresh Oxigraph store, and rows/s of the reader alone (parsing + the canonical constructor, no store), so the
    store's share is visible;
  - a 300,000-row Social-Chem-101 file made by replicating the two shared subsets with fresh row ids: ingest
    rows/s (target >= 20,000 rows/s) and the peak RSS of the ingesting process while it streams the file
    (target <= 1 GB), measured in a child process of its own.

  - the store's ceiling (--ceiling N, default 60,000 rows of that file): the N-Triples the store writes for
    those rows, captured during a real ingest, bulk-loaded again into fresh Oxigraph stores with nothing else
    running — as written (RDF + JSON payload), without the payload literal (payload in a side store), and
    with only seven link predicates per statement (type, payload, situation, behaviour, source, label,
    foundations) — next to the whole pipeline's rate on the same rows. What the RDF store alone can absorb
    bounds what any reader can reach.

Usage: .venv/bin/python bench/ingest_sources.py [--rows 300000] [--workdir bench/out] [--skip-shared]
       [--ceiling 60000]
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
SHARED = [
    ("social-chem", "social-chem-101/obligatory_sc101.csv"),
    ("social-chem", "social-chem-101/optional_sc101.csv"),
    ("ethics", "ethics/cm_test_hard.csv"),
    ("ethics", "ethics/deontology_train.csv"),
    ("ethics", "ethics/justice_train.csv"),
    ("privacylens", "privacylens/main_data.json"),
    ("privacylens", "privacylens/privacylens_seeds_flat.csv"),
    ("udhr", "values/udhr_articles_en.csv"),
    ("values", "values/schwartz_values_touche23.json"),
]
FIXTURES = [
    ("valueprism", "tests/data/ingest/valueprism_sample.csv"),
    ("moral-stories", "tests/data/ingest/moral_stories_sample.jsonl"),
]


def replicate_social_chem(dst: Path, rows: int) -> int:
    """``rows`` rows made of the shared subsets over and over, each copy with fresh rot-ids."""
    header: list[str] | None = None
    base: list[list[str]] = []
    for name in ("obligatory_sc101.csv", "optional_sc101.csv"):
        with open(DATA / "social-chem-101" / name, newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            h = next(reader)
            if header is None:
                header = h[:25]
            base += [r[:25] for r in reader]
    assert header is not None
    rot_id = header.index("rot-id")
    n = 0
    with open(dst, "w", newline="", encoding="utf-8") as out:
        w = csv.writer(out, delimiter="\t", lineterminator="\n")
        w.writerow(header)
        copy = 0
        while n < rows:
            for r in base:
                if n >= rows:
                    break
                r2 = list(r)
                r2[rot_id] = f"{r[rot_id]}/copy{copy}"
                w.writerow(r2)
                n += 1
            copy += 1
    return n


def _count_rows(reader, path: Path) -> tuple[int, float]:
    t = time.perf_counter()
    n = 0
    for _ in reader.records(path):
        n += 1
    return n, time.perf_counter() - t


def bench_shared(workdir: Path) -> None:
    from normgraph.sources import available_sources
    from normgraph.store import open_store

    sources = available_sources()
    print(f"{'reader':<14} {'file':<34} {'rows':>7} {'ingest s':>9} {'rows/s':>8} {'reader-only rows/s':>19}")
    for name, rel in [*SHARED, *FIXTURES]:
        path = (DATA / rel) if not rel.startswith("tests/") else REPO / rel
        if not path.is_file():
            print(f"{name:<14} {rel:<34} (missing: skipped)")
            continue
        reader = sources[name]
        n_only, t_only = _count_rows(reader, path)
        store_dir = Path(tempfile.mkdtemp(dir=workdir))
        store = open_store("oxigraph", store_dir / "store")
        t = time.perf_counter()
        s = reader.load(path, store, rejects_path=store_dir / "rejects.jsonl", progress=False)
        secs = time.perf_counter() - t
        store.close()
        shutil.rmtree(store_dir, ignore_errors=True)
        print(f"{name:<14} {path.name:<34} {s.read:>7,} {secs:>9.2f} {s.read / secs:>8,.0f} "
              f"{n_only / t_only:>19,.0f}")


def child(path: str, store_path: str, rejects: str) -> None:
    """Ingest in this process and report the summary with this process's peak RSS."""
    from ingest.sources.social_chem import SocialChem
    from normgraph.store import open_store

    store = open_store("oxigraph", Path(store_path))
    t = time.perf_counter()
    s = SocialChem().load(Path(path), store, rejects_path=Path(rejects), progress=False)
    secs = time.perf_counter() - t
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before stats(), which is not streaming
    nodes = store.stats().concepts
    store.close()
    print(json.dumps({"summary": s.model_dump(), "seconds": secs, "peak_rss_mib": rss_kib / 1024, "nodes": nodes}))


def bench_300k(workdir: Path, rows: int) -> None:
    from ingest.sources.social_chem import SocialChem

    data = workdir / "social-chem-replicated.tsv"
    t = time.perf_counter()
    n = replicate_social_chem(data, rows)
    print(f"\nSocial-Chem-101 replicated: {n:,} rows, {data.stat().st_size / 2**20:.0f} MiB TSV "
          f"(written in {time.perf_counter() - t:.1f} s)")
    t = time.perf_counter()
    only = sum(1 for _ in SocialChem().records(data))
    t_only = time.perf_counter() - t
    print(f"  reader alone (parse + canonical constructor, no store): {only / t_only:,.0f} rows/s")
    store_path = workdir / "store-300k"
    shutil.rmtree(store_path, ignore_errors=True)
    shutil.rmtree(str(store_path) + ".checkpoints", ignore_errors=True)
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(data), str(store_path), str(workdir / "300k.rejects.jsonl")],
        cwd=REPO, capture_output=True, text=True, check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    s = report["summary"]
    rate = s["read"] / report["seconds"]
    nodes = report["nodes"]
    print(f"  ingest into a fresh Oxigraph store: {s['read']:,} rows in {report['seconds']:.1f} s = "
          f"{rate:,.0f} rows/s (target >= 20,000) — loaded {s['loaded']:,}, rejected {s['rejected']:,}; "
          f"nodes: {nodes.get('situation', 0):,} situations, {nodes.get('behavior', 0):,} behaviours "
          f"({s['concepts']:,} extra spellings written as aliases)")
    print(f"  peak RSS of the ingesting process: {report['peak_rss_mib']:,.0f} MiB (target <= 1,024)")
    shutil.rmtree(store_path, ignore_errors=True)


def store_ceiling(workdir: Path, rows: int) -> None:
    from pyoxigraph import RdfFormat, Store

    from ingest.sources.social_chem import SocialChem
    from normgraph.store import open_store
    from normgraph.store.oxigraph import OxigraphStore

    data = workdir / "social-chem-ceiling.tsv"
    replicate_social_chem(data, rows)
    batches: list[list[str]] = []
    write = OxigraphStore._write

    def capture(self, lines, replace, orphans):  # bench-only instrumentation of the store's one write path
        batches.append(list(lines))
        return write(self, lines, replace, orphans)

    store_path = workdir / "store-ceiling"
    shutil.rmtree(store_path, ignore_errors=True)
    OxigraphStore._write = capture  # type: ignore[method-assign]
    try:
        store = open_store("oxigraph", store_path)
        t = time.perf_counter()
        s = SocialChem().load(data, store, rejects_path=workdir / "ceiling.rejects.jsonl", progress=False)
        pipeline = time.perf_counter() - t
        store.close()
    finally:
        OxigraphStore._write = write  # type: ignore[method-assign]
        shutil.rmtree(store_path, ignore_errors=True)
        shutil.rmtree(str(store_path) + ".checkpoints", ignore_errors=True)
    triples = sum(map(len, batches))
    print(f"\nStore ceiling on {s.read:,} Social-Chem rows ({triples / s.read:.1f} triples per row as written):")
    print(f"  whole pipeline (reader + canonical + store): {s.read / pipeline:,.0f} rows/s")
    keep = ("#type>", "#payload>", "#inSituation>", "#behavior>", "#wasDerivedFrom>", "#label>", "#moralFoundation>")
    variants = {
        "RDF + payload, as written": batches,
        "RDF without the payload literal": [[x for x in b if "#payload>" not in x] for b in batches],
        "7 link predicates + payload": [[x for x in b if x.split(" ", 2)[1].endswith(keep)] for b in batches],
    }
    for name, chunks in variants.items():
        target = workdir / "store-bulk"
        shutil.rmtree(target, ignore_errors=True)
        db = Store(str(target))
        t = time.perf_counter()
        for chunk in chunks:
            db.bulk_load("\n".join(chunk), format=RdfFormat.N_TRIPLES)
        db.flush()
        secs = time.perf_counter() - t
        del db
        shutil.rmtree(target, ignore_errors=True)
        n = sum(map(len, chunks))
        print(f"  bulk_load only, {name:<32} {n / s.read:5.1f} triples/row {n / secs:>9,.0f} triples/s "
              f"{s.read / secs:>8,.0f} rows/s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--workdir", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--skip-shared", action="store_true")
    ap.add_argument("--ceiling", type=int, default=60_000, help="rows for the store-ceiling section (0: skip)")
    ap.add_argument("--child", nargs=3, metavar=("FILE", "STORE", "REJECTS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    if not DATA.is_dir():
        sys.exit(f"shared data not found at {DATA}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    if not args.skip_shared:
        bench_shared(args.workdir)
    bench_300k(args.workdir, args.rows)
    if args.ceiling:
        store_ceiling(args.workdir, args.ceiling)


if __name__ == "__main__":
    main()
