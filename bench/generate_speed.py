"""Generator speed: tokens/s of the in-process transformers backend and of the OpenAI-compatible backend
(``transformers serve`` on 127.0.0.1, serving the same converted folder) side by side on the same model and
prompt, then per-request latency of ``POST /v1/generate`` with n=3 on a real ``normgraph serve``.

    .venv/bin/python bench/generate_speed.py [--runs 5] [--threads 1] [--home bench/out/generate-home]

The home keeps the demo bank, its index and the converted model between runs (the first run converts the GGUF
once, about a minute). Both backends get the same torch thread count. Decoding is sampled (temperature 0.7,
64 new tokens at most, one seed per run), so runs stop at different lengths: tokens/s is total completion
tokens over total wall time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from normgraph.frames.grammar import parse_frame  # noqa: E402
from normgraph.generate.backends import model_files, shared_backend  # noqa: E402
from normgraph.generate.backends.base import DecodingParams, GeneratorBackend  # noqa: E402
from normgraph.generate.backends.openai_http import OpenAIBackend  # noqa: E402
from normgraph.generate.prompts import FALLBACK_EXAMPLES, generate_messages  # noqa: E402
from normgraph.services import NormBankService  # noqa: E402
from normgraph.settings import Settings  # noqa: E402

FRAME = {"setting": "library", "behavior": "eat food", "facts": ["[PERSON]'s role is 'patron'"], "n": 3, "store": False}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, proc: subprocess.Popen[bytes], seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise SystemExit(f"{url} did not come up in {seconds:.0f} s")


def tokens_per_second(backend: GeneratorBackend, runs: int, n: int) -> tuple[float, float]:
    messages = generate_messages("library", "eat food", parse_frame("[PERSON]'s role is 'patron'"), FALLBACK_EXAMPLES)
    backend.generate(messages, DecodingParams(max_new_tokens=8, seed=0), n=1)  # warm-up
    tokens = 0
    seconds = 0.0
    for seed in range(runs):
        started = time.perf_counter()
        out = backend.generate(messages, DecodingParams(max_new_tokens=64, temperature=0.7, seed=seed), n=n)
        seconds += time.perf_counter() - started
        tokens += sum(c.completion_tokens for c in out)
    return tokens / seconds, tokens / runs


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--home", type=Path, default=REPO / "bench" / "out" / "generate-home")
    args = ap.parse_args()

    settings = Settings(home=args.home, generator_threads=args.threads)
    with NormBankService(settings) as svc:
        svc.load_demo(with_taxonomy=False, if_empty=True)
    started = time.perf_counter()
    backend = shared_backend(settings)  # converts the default GGUF into the home the first time
    print(f"model: {backend.model_id} (ready in {time.perf_counter() - started:.1f} s)")
    source = model_files.resolve(settings.generator_model, settings.home)
    assert isinstance(source, model_files.ModelSource)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(args.threads)}

    rows = []
    for n in (1, 3):
        rows.append(("transformers (in process)", n, *tokens_per_second(backend, args.runs, n)))
    port = free_port()
    served = subprocess.Popen(
        [str(Path(sys.executable).with_name("transformers")), "serve", str(source.folder), "--host", "127.0.0.1",
         "--port", str(port), "--device", "cpu", "--log-level", "warning"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/v1/models", served)
        http = OpenAIBackend(f"http://127.0.0.1:{port}/v1", str(source.folder), timeout=300)
        for n in (1, 3):
            rows.append(("openai (transformers serve)", n, *tokens_per_second(http, args.runs, n)))
    finally:
        stop(served)
    backend.close()

    print(f"\ntokens/s, {args.runs} runs, {args.threads} torch thread(s), same prompt and seeds")
    print(f"{'backend':30} {'n':>2} {'tokens/s':>9} {'tokens/run':>11}")
    for name, n, tps, per_run in rows:
        print(f"{name:30} {n:>2} {tps:>9.1f} {per_run:>11.1f}")

    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("normgraph")), "--home", str(args.home), "serve", "--port", str(port)],
        env={**env, "NORMGRAPH_GENERATOR_THREADS": str(args.threads)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", server)
        latencies = []
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            for seed in range(args.runs + 1):
                started = time.perf_counter()
                resp = client.post("/v1/generate", json={**FRAME, "seed": seed})
                latencies.append(time.perf_counter() - started)
                resp.raise_for_status()
        cold, warm = latencies[0], latencies[1:]
        print(f"\nPOST /v1/generate n=3 (store false), {len(warm)} warm requests on normgraph serve:")
        print(f"  first request (loads the model): {cold:.1f} s")
        print(f"  warm: median {statistics.median(warm):.1f} s, min {min(warm):.1f} s, max {max(warm):.1f} s")
    finally:
        stop(server)


if __name__ == "__main__":
    main()
