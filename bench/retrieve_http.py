"""POST /v1/retrieve under load: two uvicorn workers, wrk, the demo bank plus Social-Chem-101.

The bank: the demo bank and every row of ../shared/data/social-chem-101 (both CSVs) — through the
`social-chem` reader when it is registered, else converted to JSONL rules of thumb and ingested with `jsonl` —
indexed with `normgraph index build` (the model's vectors are cached in the home, so a second run encodes
nothing). Then `normgraph serve --workers 2` (read-only workers), warm-up, and `wrk -t2 -c32 -d10s` on
POST /v1/retrieve with a Lua script rotating over request bodies:

  rotating  ~500 distinct Social-Chem situations, the two wrk threads half a list apart (each worker computes
            a query once, then answers it from its cache: after the first round most requests are hits)
  distinct  every request a situation not asked before (thousands): the encode + search path, no cache
  repeat    50 situations asked before the run in both workers: every request a cache hit

It prints req/s (target >= 250), latency percentiles, and the peak RSS of each worker (VmHWM; target <= 1 GB),
for each encoder backend in --backends side by side (default: onnx, the shipped default; torch, the same
vectors through sentence-transformers; onnx-int8, its own vector space and so its own copy of the bank).
With --compare-handlers it also serves the same app with the two retrieval routes as plain ``def`` handlers
(what FastAPI runs in its thread pool) and with ``async`` handlers that answer cache hits on the event loop and
hop to the thread pool only to compute — the shipped ones — both started by uvicorn directly, same flags.

Usage: .venv/bin/python bench/retrieve_http.py [--workdir bench/out/retrieve_http] [--seconds 10]
       [--compare-handlers] [--fresh] [--backends onnx,torch,onnx-int8]
Needs wrk (Debian package `wrk`); without it only the bank and index are built.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SC101 = REPO.parent / "shared" / "data" / "social-chem-101"
FILES = ("obligatory_sc101.csv", "optional_sc101.csv")
ROTATING = 500
REPEAT = 50
K = 10


# --- the bank -------------------------------------------------------------------------------------------------


def social_chem_as_jsonl(out: Path) -> Path:
    """The rules of thumb as JSONL norms of kind rule_of_thumb (when no `social-chem` reader is installed)."""
    with out.open("w", encoding="utf-8") as f:
        for name in FILES:
            with (SC101 / name).open(newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    rot = row["rot"].strip()
                    if not rot:
                        continue
                    judgment = row.get("action-moral-judgment", "")
                    label = None
                    try:
                        j = float(judgment)
                        label = "expected" if j > 0 else "okay" if j == 0 else "unexpected"
                    except ValueError:
                        pass
                    item = {
                        "id": f"{row['rot-id']}/{row.get('breakdown-worker-id', '')}",
                        "kind": "rule_of_thumb",
                        "text": rot,
                        "situation": row["situation"].strip() or None,
                        "action": row["action"].strip() or None,
                        "source": "social-chem-101",
                        "licence": "CC BY-SA 4.0",
                    }
                    if label:
                        item["label"] = label
                    f.write(json.dumps({k: v for k, v in item.items() if v is not None}) + "\n")
    return out


# --model: the encoder to serve (default: the settings' default), for comparing models side by side.
MODEL: dict[str, str] = {}


def build_bank(home: Path, backend: str, base: Path | None = None) -> None:
    """The bank at ``home`` with an index in ``backend``'s vector space; with ``base``, a copy of that bank's
    store (another vector space needs its own index, hence its own home)."""
    from normgraph.services import NormBankService
    from normgraph.settings import Settings
    from normgraph.sources import available_sources

    if base is not None:
        if not (home / "store").is_dir():
            shutil.copytree(base / "store", home / "store")
        with NormBankService(Settings(home=home, embedding_backend=backend, **MODEL)) as svc:
            report = svc.index_build()
            print(f"index build ({backend}): {report.kind}, {report.live:,} live, encoded {report.encoded:,} "
                  f"(cache hits {report.cache_hits:,}) in {report.seconds:.1f} s")
        return
    with NormBankService(Settings(home=home, embed_on_ingest=False, embedding_backend=backend, **MODEL)) as svc:
        t = time.perf_counter()
        svc.load_demo(with_taxonomy=False, embed=False)
        if "social-chem" in available_sources():
            for name in FILES:
                s = svc.ingest("social-chem", SC101 / name, embed=False)
                print(f"ingest social-chem {name}: read {s.read}, loaded {s.loaded}, duplicates {s.duplicates}, rejected {s.rejected}")
        else:
            jsonl = social_chem_as_jsonl(home.parent / "social-chem-101.jsonl")
            s = svc.ingest("jsonl", jsonl, embed=False)
            print(f"ingest social-chem as jsonl: read {s.read}, loaded {s.loaded}, rejected {s.rejected}")
        stats = svc.stats()
        print(f"bank: {stats.statements:,} statements {dict(stats.by_kind)} ({time.perf_counter() - t:.1f} s)")
        report = svc.index_build()
        print(
            f"index build: {report.kind}, {report.live:,} live, encoded {report.encoded:,} "
            f"(cache hits {report.cache_hits:,}) in {report.seconds:.1f} s"
        )


def situations() -> list[str]:
    """Every distinct situation, in a fixed pseudo-random order (by hash)."""
    seen: dict[str, None] = {}
    for name in FILES:
        with (SC101 / name).open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                s = " ".join(row["situation"].split())
                if 3 <= len(s) <= 300 and "]=" not in s:
                    seen.setdefault(s, None)
    return sorted(seen, key=lambda s: hashlib.sha256(s.encode()).digest())


# --- serving ----------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def descendants(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    kids = [int(x) for x in out]
    return kids + [g for k in kids for g in descendants(k)]


def vm(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def workers(pid: int) -> list[int]:
    """The uvicorn worker processes (the ones that loaded the app), not the supervisor or helpers."""
    found = []
    for p in descendants(pid):
        try:
            if vm(p, "VmRSS") > 200 * 1024:  # an app worker with the model is far above this
                found.append(p)
        except FileNotFoundError:
            pass
    return found


def start(cmd: list[str], env: dict[str, str], base: str) -> subprocess.Popen[bytes]:
    # The server's log goes to a file beside the bench's output, so a failed request can be read about afterwards.
    log = open(REPO / "bench" / "out" / "retrieve_http-server.log", "ab")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: see {log.name}")
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit("server did not come up in 180 s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def post_all(base: str, queries: list[str], times: int = 1, threads: int = 16) -> None:
    with httpx.Client(base_url=base, timeout=120) as http, ThreadPoolExecutor(threads) as pool:
        def one(q: str) -> None:
            r = http.post("/v1/retrieve", json={"query": q, "k": K})
            assert r.status_code == 200, r.text

        list(pool.map(one, [q for q in queries for _ in range(times)]))


def lua(path: Path, queries: list[str]) -> Path:
    bodies = [json.dumps({"query": q, "k": K}) for q in queries]
    path.write_text(
        "local bodies = {" + ",".join("[==[" + b + "]==]" for b in bodies) + "}\n"
        "local made = 0\n"
        "function setup(thread)\n  thread:set('tid', made)\n  made = made + 1\nend\n"
        "function init(args)\n  i = (tid or 0) * math.floor(#bodies / 2)\nend\n"
        "request = function()\n  i = i % #bodies + 1\n"
        "  return wrk.format('POST', '/v1/retrieve', {['Content-Type']='application/json'}, bodies[i])\nend\n",
        encoding="utf-8",
    )
    return path


def wrk(base: str, script: Path, seconds: int) -> dict[str, str]:
    out = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(script), base], capture_output=True, text=True
    ).stdout
    figures: dict[str, str] = {"raw": out}
    lines = out.splitlines()
    for ln in lines:
        parts = ln.split()
        if ln.startswith("Requests/sec"):
            figures["rps"] = parts[1]
        elif "Non-2xx" in ln:
            figures["non2xx"] = parts[-1]
        elif ln.strip().startswith(("50%", "90%", "99%")):
            figures[parts[0]] = parts[1]
        elif "requests in" in ln:
            figures["requests"] = parts[0]
    figures.setdefault("non2xx", "0")
    return figures


def report(label: str, f: dict[str, str]) -> None:
    print(
        f"  {label:<9} {f.get('rps', '?'):>9} req/s   p50 {f.get('50%', '?'):>8}  p90 {f.get('90%', '?'):>8}  "
        f"p99 {f.get('99%', '?'):>8}   {f.get('requests', '?')} requests, non-2xx {f['non2xx']}"
    )


def measure(name: str, cmd: list[str], env: dict[str, str], port: int, pools: dict[str, list[str]], work: Path, seconds: int, runs: tuple[str, ...]) -> None:
    base = f"http://127.0.0.1:{port}"
    t = time.perf_counter()
    proc = start(cmd, env, base)
    try:
        # Warm-up: both workers load the model (in the background at start-up) and answer some queries that
        # are in none of the measured pools.
        post_all(base, pools["warmup"])
        ready = time.perf_counter() - t
        post_all(base, pools["repeat"], times=8)  # so that both workers hold these in their caches
        pids = workers(proc.pid)
        print(f"{name}: up and warm in {ready:.1f} s, workers {pids}; load average {os.getloadavg()[0]:.2f}")
        for run in runs:
            figures = wrk(base, lua(work / f"{run}.lua", pools[run]), seconds)
            report(run, figures)
            if figures.get("rps") is None:
                print(figures["raw"])
        for p in pids:
            print(f"  worker {p}: RSS peak (VmHWM) {vm(p, 'VmHWM') / 1024:.0f} MiB, now {vm(p, 'VmRSS') / 1024:.0f} MiB   [target <= 1 GB]")
    finally:
        stop(proc)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=REPO / "bench" / "out" / "retrieve_http")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--model", help="NORMGRAPH_EMBEDDING_MODEL to serve (default: the default model)")
    ap.add_argument("--fresh", action="store_true", help="delete the bank (and its embedding cache) first")
    ap.add_argument("--compare-handlers", action="store_true", help="also measure def vs async handlers")
    ap.add_argument("--backends", default="onnx,torch,onnx-int8",
                    help="encoder backends to serve side by side (NORMGRAPH_EMBEDDING_BACKEND), first = default")
    args = ap.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if args.model:
        MODEL["embedding_model"] = args.model
    if not SC101.is_dir():
        print(f"skip: Social-Chem-101 not found at {SC101}")
        return 0
    work: Path = args.workdir
    home = work / "home"
    if args.fresh:
        shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    # torch and onnx (fp32) share a vector space, hence one index; onnx-int8 gets a copy of the bank.
    homes = {b: (work / "home-int8" if b == "onnx-int8" else home) for b in backends}
    build_bank(home, "onnx" if "onnx" in backends or "torch" in backends else backends[0])
    if "onnx-int8" in backends:
        build_bank(homes["onnx-int8"], "onnx-int8", base=home)

    if shutil.which("wrk") is None:
        print("skip HTTP: wrk is not installed (apt-get install wrk)")
        return 0
    every = situations()
    pools = {
        "warmup": every[:64],
        "repeat": every[64 : 64 + REPEAT],
        "rotating": every[64 + REPEAT : 64 + REPEAT + ROTATING],
        "distinct": every[64 + REPEAT + ROTATING :],
    }
    print(f"queries: {len(every):,} distinct situations; rotating {len(pools['rotating'])}, distinct pool {len(pools['distinct']):,}, repeat {REPEAT}")
    print(f"wrk -t2 -c32 -d{args.seconds}s, POST /v1/retrieve k={K}, 2 workers, 2 cores shared with other work")

    env = {k: v for k, v in os.environ.items() if not k.startswith("NORMGRAPH_")}
    env["NORMGRAPH_HOME"] = str(home)
    env["NORMGRAPH_EMBEDDING_BACKEND"] = backends[0]
    if args.model:
        env["NORMGRAPH_EMBEDDING_MODEL"] = args.model
    cli = Path(sys.executable).with_name("normgraph")
    for backend in backends:
        port = free_port()
        serve = [str(cli), "serve", "--port", str(port), "--workers", "2"]
        backend_env = dict(env, NORMGRAPH_HOME=str(homes[backend]), NORMGRAPH_EMBEDDING_BACKEND=backend)
        measure(f"normgraph serve --workers 2, encoder {backend}", serve, backend_env, port, pools, work, args.seconds,
                ("rotating", "distinct", "repeat"))

    if args.compare_handlers:
        for variant in ("def", "async"):
            port = free_port()
            cmd = [
                sys.executable, "-m", "uvicorn", f"retrieve_http:create_{variant}_app", "--factory", "--app-dir",
                str(REPO / "bench"), "--host", "127.0.0.1", "--port", str(port), "--workers", "2", "--no-access-log",
                "--log-level", "warning",
            ]
            variant_env = dict(env, NORMGRAPH_READ_ONLY="1", PYTHONPATH=str(REPO))
            measure(f"uvicorn, {variant} handlers", cmd, variant_env, port, pools, work, args.seconds, ("distinct", "repeat"))
    return 0


# --- the handler variants for --compare-handlers -----------------------------------------------------------------


def create_async_app():  # the shipped app
    from api.app import create_app

    return create_app()


def create_def_app():
    """The shipped app with /v1/retrieve as a plain ``def`` handler: FastAPI runs all of it in its thread pool,
    cache hits included."""
    from fastapi import Request
    from starlette.responses import Response

    from api.app import create_app
    from api.routers.retrieval import RetrieveRequest

    app = create_app()
    app.router.routes = [r for r in app.router.routes if getattr(r, "path", None) != "/v1/retrieve"]

    @app.post("/v1/retrieve")
    def retrieve(body: RetrieveRequest, request: Request) -> Response:
        answer = request.app.state.service.retrieval.retrieve_json(body.query, body.k, body.filters, body.mode, body.facts)
        return Response(content=answer, media_type="application/json")

    return app


if __name__ == "__main__":
    sys.exit(main())
