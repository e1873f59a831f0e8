"""Foundation benchmark: a NormBank-shaped bank of 155,000 norms whose frames are drawn from the real NormBank
taxonomy vocabulary (../shared/data/normbank-taxonomy).

Prints, on this machine:
  - ingest time of the CSV without embeddings (target <= 60 s),
  - in-process frame query latency p50/p99, cold (first query per setting/behaviour) and warm (target p99 <= 5 ms),
  - in-process setting-only query latency (the first page of 50 behaviours, target p99 <= 50 ms), for the
    paging design (behaviour names first, then the page's norms) and, with --setting-only-design both (the
    default), the earlier one (read every norm of the setting, then page) side by side,
  - POST /v1/norms/query throughput with 2 uvicorn workers under a 10-second wrk run on loopback
    (target >= 2,000 req/s),
  - peak RSS of the ingesting process and of each server worker (target <= 1 GB).

The query process is prepared as a server worker is (``normgraph.serving.prepare_for_serving``: label indexes
warmed, collector tuned) before the first query.

Usage: .venv/bin/python bench/bank_155k.py [--rows 155000] [--workdir bench/out] [--wrk-seconds 10]
           [--setting-only-design both|paged|read-all] [--behaviours-per-setting 40]
--behaviours-per-setting caps each setting's behaviours (40 by default, as the figures in the README were
taken; the real NormBank taxonomy has a median of 100 and up to 384, so a page of 50 is then part of a setting).
Needs `wrk` (Debian package) for the HTTP part; without it that part is skipped and says so.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
TAXONOMY = REPO.parent / "shared" / "data" / "normbank-taxonomy"
AGES = ["infant", "toddler", "preschooler", "gradeschooler", "teen", "young adult", "middle-aged adult", "older adult", "senior citizen"]
ORDINAL_PHRASES = ["is", "is less than", "is less than or equal to", "is greater than", "is greater than or equal to"]
NORMS = [("expected", 2), ("normal", 1), ("taboo", 0)]


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [x.strip() for x in path.read_text(encoding="utf-8", errors="replace").splitlines() if x.strip()]


def make_csv(path: Path, rows: int, seed: int = 7, behaviours_per_setting: int = 40) -> list[tuple[str, str, list[str]]]:
    """Write the CSV; return a sample of (setting, behaviour, facts) to query with."""
    rng = random.Random(seed)
    vocab = json.loads((TAXONOMY / "constraint_dict.json").read_text())
    env = vocab["the environment"]
    person_attrs = {k: v for k, v in vocab["the PERSON PERFORMING BEHAVIOR's attribute"].items() if k != "age bracket"}
    raw = TAXONOMY / "raw"
    settings = []
    for f in sorted((raw / "Behaviors-All-Hand-Filtered").glob("*.txt")):
        behaviours = _lines(f)[:behaviours_per_setting]
        roles = _lines(raw / "Settings-Roles" / f.name)
        if behaviours and roles:
            settings.append((f.stem, behaviours, roles))
    queries: list[tuple[str, str, list[str]]] = []
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["setting", "behavior", "setting-behavior", "constraints", "constraints_given", "constraint_predict", "norm", "label", "split"])
        for i in range(rows):
            setting, behaviours, roles = rng.choice(settings)
            behaviour = rng.choice(behaviours)
            cons = [f"[PERSON]'s role is '{rng.choice(roles)}'"]
            r = rng.random()
            if r < 0.25:
                cons.append(f"[PERSON]'s age bracket {rng.choice(ORDINAL_PHRASES)} '{rng.choice(AGES)}'")
            elif r < 0.45:
                attr = rng.choice(sorted(env))
                cons.append(f"{attr} is '{rng.choice(env[attr])}'")
            elif r < 0.6:
                cons.append(f"[OTHER]'s role is '{rng.choice(roles)}'")
            elif r < 0.75:
                attr = rng.choice(sorted(person_attrs))
                cons.append(f"[PERSON]'s {attr} is '{rng.choice(person_attrs[attr])}'")
            elif r < 0.85:
                cons.append(f"[PERSON]'s behavior {rng.choice(['is', 'is not'])} '{rng.choice(behaviours)}'")
            norm, label = rng.choice(NORMS)
            frame = " [AND] ".join(cons)
            given = " [AND] ".join(cons[1:]) + " [AND] "
            w.writerow([setting, behaviour, f"{setting} [BEHAVIOR] {behaviour}", frame, given, cons[0], norm, label, rng.choice(["train", "dev", "test"])])
            if i % 50 == 0:
                facts = [cons[0]] + ([f"[PERSON]'s age bracket is '{rng.choice(AGES)}'"] if rng.random() < 0.5 else [])
                queries.append((setting, behaviour, facts))
    return queries


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(x) for x in out]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=155_000)
    ap.add_argument("--workdir", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--wrk-seconds", type=int, default=10)
    ap.add_argument("--queries", type=int, default=2000)
    ap.add_argument("--setting-only-design", choices=["both", "paged", "read-all"], default="both")
    ap.add_argument("--behaviours-per-setting", type=int, default=40)
    args = ap.parse_args()
    if not TAXONOMY.is_dir():
        print(f"skip: NormBank taxonomy not found at {TAXONOMY}")
        return 0

    from normgraph.frames.grammar import parse_frame
    from normgraph.frames.resolve import answer_query
    from normgraph.serving import prepare_for_serving
    from normgraph.sources import available_sources
    from normgraph.store import open_store

    work = args.workdir
    shutil.rmtree(work / "home", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    csv_path = work / f"normbank_{args.rows}.csv"
    t = time.perf_counter()
    queries = make_csv(csv_path, args.rows, behaviours_per_setting=args.behaviours_per_setting)
    print(f"generated {args.rows:,} rows -> {csv_path} in {time.perf_counter() - t:.1f} s")

    home = work / "home"
    store = open_store("oxigraph", home / "store")
    sources = available_sources()
    t = time.perf_counter()
    tax = sources["normbank-taxonomy"].load(TAXONOMY, store, progress=False)
    print(f"taxonomy: {tax.concepts:,} concepts in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    summary = sources["normbank"].load(csv_path, store, progress=False, rejects_path=work / "rejects.jsonl")
    ingest_s = time.perf_counter() - t
    print(
        f"INGEST {summary.loaded:,} norms (read {summary.read:,}, rejected {summary.rejected}) in {ingest_s:.1f} s "
        f"= {summary.read / ingest_s:,.0f} rows/s   [target <= 60 s]"
    )
    t = time.perf_counter()
    again = sources["normbank"].load(csv_path, store, progress=False, rejects_path=work / "rejects.jsonl")
    print(f"re-ingest: loaded {again.loaded}, duplicates {again.duplicates:,} in {time.perf_counter() - t:.1f} s")

    rng = random.Random(11)
    sample = [rng.choice(queries) for _ in range(args.queries)]
    parsed = [(s, b, [c for f in facts for c in parse_frame(f)]) for s, b, facts in sample]
    # As a server worker does at start-up; the cold figures below are then "first time this setting/behaviour
    # is asked", not "first query of the process".
    t0 = time.perf_counter()
    prepare_for_serving(store)
    print(f"prepare_for_serving (label indexes, collector): {(time.perf_counter() - t0) * 1000:.0f} ms")
    t0 = time.perf_counter()
    answer_query(store, "restaurant", "shout", [])
    print(f"first query of the process: {(time.perf_counter() - t0) * 1000:.1f} ms")
    for label, _runs in (("cold", 1), ("warm", 1)):
        lat = []
        for s, b, facts in parsed:
            t0 = time.perf_counter()
            answer_query(store, s, b, facts)
            lat.append((time.perf_counter() - t0) * 1000)
        print(
            f"QUERY ({label}, {len(lat)} queries, setting+behaviour+facts): p50 {statistics.median(lat):.2f} ms  "
            f"p99 {pct(lat, 99):.2f} ms  max {max(lat):.2f} ms   [target p99 <= 5 ms]"
        )
    designs = {"both": ["paged", "read-all"], "paged": ["paged"], "read-all": ["read-all"]}[args.setting_only_design]
    for design in designs:
        # The same 300 questions per design; the first time a setting is asked is its "cold" query (with the
        # candidates of the frame queries above already cached), a repeat is "warm". The design measured
        # second finds RocksDB's and the OS's caches warmer.
        lat, cold, warm, seen = [], [], [], set()
        for s, _, facts in parsed[:300]:
            t0 = time.perf_counter()
            answer_query(store, s, None, facts, limit=50, read_every_norm=design == "read-all")
            dt = (time.perf_counter() - t0) * 1000
            lat.append(dt)
            (warm if s in seen else cold).append(dt)
            seen.add(s)
        print(
            f"QUERY (setting only, first page of 50 behaviours, {len(lat)}, {design}): p50 {statistics.median(lat):.2f} ms "
            f"p99 {pct(lat, 99):.2f} ms  max {max(lat):.2f} ms   [target p99 <= 50 ms]"
        )
        for name, xs in (("first for its setting", cold), ("repeat", warm)):
            if xs:
                print(f"    {name} ({len(xs)}): p50 {statistics.median(xs):.2f} ms  p99 {pct(xs, 99):.2f} ms")
    print(f"RSS peak of the ingesting/querying process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB   [target <= 1 GB]")
    store.close()

    if shutil.which("wrk") is None:
        print("skip HTTP: wrk not installed (apt-get install wrk)")
        return 0
    bodies = [json.dumps({"setting": s, "behavior": b, "facts": f}) for s, b, f in sample[:1000]]
    lua = work / "post.lua"
    lua.write_text(
        "local bodies = {" + ",".join("[==[" + b + "]==]" for b in bodies) + "}\n"
        "local i = 0\n"
        "request = function()\n  i = i % #bodies + 1\n"
        "  return wrk.format('POST', '/v1/norms/query', {['Content-Type']='application/json'}, bodies[i])\nend\n"
    )
    # Once with the per-process answer cache (the default), once without it: the second is the resolver's
    # own throughput (store caches still warm up as requests arrive).
    for cache_mb in ("32", "0"):
        run_http(home, lua, bodies, args.wrk_seconds, cache_mb)
    return 0


def run_http(home: Path, lua: Path, bodies: list[str], seconds: int, cache_mb: str) -> None:
    port = free_port()
    env = dict(os.environ, NORMGRAPH_HOME=str(home), NORMGRAPH_ANSWER_CACHE_MB=cache_mb)
    server = subprocess.Popen(
        [sys.executable, "-m", "normgraph.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            print("server did not come up:", server.stderr.read().decode()[-2000:] if server.stderr else "")
            return
        for body in bodies[:20]:
            r = httpx.post(url + "/v1/norms/query", content=body, headers={"content-type": "application/json"})
            assert r.status_code == 200, r.text
        out = subprocess.run(
            ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(lua), url], capture_output=True, text=True
        ).stdout
        print(out)
        rps = next((ln.split()[1] for ln in out.splitlines() if ln.startswith("Requests/sec")), "?")
        non2xx = next((ln.strip() for ln in out.splitlines() if "Non-2xx" in ln), "Non-2xx responses: 0")
        print(
            f"HTTP POST /v1/norms/query, 2 workers, answer cache {cache_mb} MiB, {len(bodies)} distinct bodies, "
            f"wrk -t2 -c32 {seconds}s: {rps} req/s ({non2xx})   [target >= 2,000 req/s]"
        )
        for p in [c for c in children(server.pid) for c in [c, *children(c)]]:
            try:
                print(f"RSS peak of server process {p}: {rss_peak_kib(p) / 1024:.0f} MiB   [target <= 1 GB]")
            except FileNotFoundError:
                pass
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
