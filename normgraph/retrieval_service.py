"""Retrieval as the service offers it: one embedding model and one ``Retriever`` per process, opened on first
use, plus index maintenance and a cache of serialised answers.

``NormBankService.retrieval`` is the one instance of a service; the CLI and the HTTP API reach it through the
service's ``retrieve``, ``prompt`` and ``index_*`` methods. Nothing here imports numpy, torch, faiss or bm25s at
import time: they load when retrieval is first used, so the rest of the service works without the
``retrieval`` extra, and a missing extra is a clear error (503 over HTTP) naming the fix.

Order of checks on a request: the caller's input first (422), then the index (503 ``index_missing`` /
``index_out_of_date``, naming ``normgraph index build``), then the model — so a bad request never waits for a
model to load, and a missing index is reported without loading one.
"""

from __future__ import annotations

import logging
import threading
import time
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, Callable, Sequence

import orjson
from pydantic import BaseModel

from normgraph.answer_cache import AnswerCache
from normgraph.errors import InvalidInput, RetrievalUnavailable, StoreError
from normgraph.index import FIX, IndexMissing, index_dir
from normgraph.settings import Settings
from normgraph.store.base import GraphStore

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from normgraph.embed.base import Embedder
    from normgraph.embed.cache import CachedEmbedder
    from normgraph.index.maintenance import BuildReport, IndexStatus, VerifyReport
    from normgraph.prompting import PromptResult
    from normgraph.retrieval import RetrievalResult, Retriever

INSTALL_FIX = "pip install 'normgraph[retrieval]'"
_EXTRA_MODULES = ("numpy", "torch", "sentence_transformers", "onnxruntime", "onnx", "faiss", "bm25s")
_MODES = ("hybrid", "dense", "lexical")
_FORMATS = ("markdown", "json")
# How often a cached answer is checked against the index generation on disk (another process may rebuild it).
_GENERATION_CHECK_SECONDS = 2.0
_MIB = 1024 * 1024


_installed = False


def missing_modules() -> list[str]:
    """The modules of the ``retrieval`` extra that are not installed."""
    global _installed
    if _installed:
        return []
    missing = [name for name in _EXTRA_MODULES if find_spec(name) is None]
    _installed = not missing
    return missing


def require_installed() -> None:
    missing = missing_modules()
    if missing:
        raise RetrievalUnavailable(
            f"retrieval needs {', '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not installed: "
            f"{INSTALL_FIX}",
            {"missing": missing, "fix": INSTALL_FIX},
        )


# One loaded model per process and (model, backend, threads): the services, apps and tests of one process share
# it (~90 MB of weights, plus ~300 MB of torch for the torch backend, each time otherwise).
_MODELS: dict[tuple[str, str, int], "Embedder"] = {}
_MODELS_LOCK = threading.Lock()


def shared_model(settings: Settings) -> "Embedder":
    key = (settings.embedding_model, settings.embedding_backend, settings.embedding_threads)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            require_installed()
            from normgraph.embed import open_embedder

            try:
                model = open_embedder(
                    settings.embedding_model,
                    backend=settings.embedding_backend,
                    home=settings.home,
                    threads=settings.embedding_threads,
                )
            except InvalidInput as e:  # a configuration problem of the server, not of the caller's request
                raise RetrievalUnavailable(
                    f"{e.message} (settings NORMGRAPH_EMBEDDING_MODEL, NORMGRAPH_EMBEDDING_BACKEND)",
                    {"model": settings.embedding_model, "backend": settings.embedding_backend},
                ) from None
            _MODELS[key] = model
        return model


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_defaults=True)
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(type(value).__name__)


def _key(*parts: Any) -> bytes | None:
    try:
        return orjson.dumps(parts, default=_plain, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # something the key cannot spell: answer without the cache
        return None


class RetrievalService:
    """Retrieval over one bank (``store`` at ``settings.home``). Thread-safe."""

    def __init__(self, settings: Settings, store: GraphStore) -> None:
        self.settings = settings
        self.store = store
        self.last_build: "BuildReport | None" = None
        self._lock = threading.Lock()  # state only, held for microseconds (an event loop may take it)
        self._open_lock = threading.Lock()  # opening the retriever or the build embedder (seconds)
        self._retriever: "Retriever | None" = None
        self._build_embedder: "CachedEmbedder | None" = None
        self._answers = AnswerCache(settings.answer_cache_mb * _MIB)
        self._generation: int | None = None
        self._generation_checked = 0.0
        self._epoch = 0  # bumped by every invalidate(): a retriever opened before one is not kept
        self._preloading: threading.Thread | None = None
        self._closed = False

    # --- lifecycle --------------------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._closed = True
            preloading = self._preloading
        if preloading is not None:
            preloading.join()
        with self._open_lock, self._lock:
            retriever, self._retriever = self._retriever, None
            embedder, self._build_embedder = self._build_embedder, None
        if retriever is not None:
            retriever.close()
        if embedder is not None:
            embedder.cache.close()
        self._answers.clear()

    def invalidate(self) -> None:
        """The store or the index changed in this process: reopen the retriever on next use (which re-checks
        the index against the store) and forget every cached answer."""
        with self._lock:
            # Not closed here: a search in another thread may still be using it; it closes when collected.
            self._retriever = None
            self._generation = None
            self._epoch += 1
        self._answers.clear()

    def preload(self) -> None:
        """Load the model and open the index in a background thread when there is an index to open, so a
        server's first retrieval request does not pay seconds for it. Failures are left for that request to
        report."""
        if missing_modules() or not (index_dir(self.settings.home) / "meta.sqlite").is_file():
            return

        def run() -> None:
            try:
                self.retriever()
            except Exception as e:  # noqa: BLE001 - the first request reports it, with its proper error
                log.info("retrieval preload did not open the index (%s); the first retrieval request will report it", e)

        with self._lock:
            if self._preloading is None and not self._closed:
                self._preloading = threading.Thread(target=run, name="normgraph-retrieval-preload", daemon=True)
                self._preloading.start()

    # --- the model and the retriever --------------------------------------------------------------------------
    def model(self) -> "Embedder":
        return shared_model(self.settings)

    def retriever(self) -> "Retriever":
        with self._lock:
            if self._closed:
                raise StoreError("the retrieval service is closed")
            if self._retriever is not None:
                return self._retriever
        with self._open_lock:
            with self._lock:
                if self._retriever is not None:  # opened by another thread meanwhile
                    return self._retriever
                epoch = self._epoch
            require_installed()
            directory = index_dir(self.settings.home)
            if not (directory / "meta.sqlite").is_file():  # before loading a model for nothing
                raise IndexMissing(f"no retrieval index at {directory}: {FIX}", {"path": str(directory), "fix": FIX})
            from normgraph.retrieval import Retriever

            # The bare model, not the on-disk cache: a write per unique query would cost more than it saves.
            retriever = Retriever.open(self.store, self.settings.home, embedder=self.model())
            with self._lock:
                if self._closed:
                    retriever.close()
                    raise StoreError("the retrieval service is closed")
                if epoch != self._epoch:  # the store or index changed while it opened: use it once, keep none
                    return retriever
                self._retriever = retriever
                self._generation = retriever.index.generation
                self._generation_checked = time.monotonic()
            return retriever

    # --- queries ----------------------------------------------------------------------------------------------
    def retrieve(
        self,
        query: str,
        k: int = 10,
        filters: Any = None,
        mode: str = "hybrid",
        facts: Sequence[str | dict | Any] | str | None = None,
    ) -> "RetrievalResult":
        """Hybrid (or dense / lexical) retrieval; see ``normgraph.retrieval.Retriever.retrieve``."""
        f = self._check(query, k, filters, mode, facts)
        return self.retriever().retrieve(query, k, f, mode=mode, facts=facts)  # type: ignore[arg-type]

    def retrieve_json(
        self,
        query: str,
        k: int = 10,
        filters: Any = None,
        mode: str = "hybrid",
        facts: Sequence[str | dict | Any] | str | None = None,
        *,
        cached_only: bool = False,
    ) -> bytes | None:
        """``retrieve(...)`` as JSON bytes, from the answer cache when the same request was answered from the
        current index. With ``cached_only`` return ``None`` instead of computing (never blocks: for an event
        loop)."""
        return self._answer(
            _key("retrieve", query, k, filters, mode, facts),
            lambda: self.retrieve(query, k, filters, mode, facts),
            cached_only,
        )

    def prompt(
        self,
        situation: str,
        k: int = 8,
        format: str = "markdown",
        max_tokens: int | None = None,
        filters: Any = None,
        facts: Sequence[str | dict | Any] | str | None = None,
    ) -> "PromptResult":
        """A context block for an agent; see ``normgraph.prompting.build_prompt``."""
        f = self._check(situation, k, filters, "hybrid", facts)
        if format not in _FORMATS:
            raise InvalidInput(f"format must be markdown or json, not {format!r}", {"format": format})
        from normgraph.prompting import MAX_MAX_TOKENS, MIN_MAX_TOKENS, build_prompt

        if max_tokens is not None and (
            isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not MIN_MAX_TOKENS <= max_tokens <= MAX_MAX_TOKENS
        ):
            raise InvalidInput(
                f"max_tokens must be an integer between {MIN_MAX_TOKENS} and {MAX_MAX_TOKENS}, not {max_tokens!r}",
                {"max_tokens": max_tokens, "min": MIN_MAX_TOKENS, "max": MAX_MAX_TOKENS},
            )
        return build_prompt(self.retriever(), situation, k, format=format, max_tokens=max_tokens, filters=f, facts=facts)

    def prompt_json(
        self,
        situation: str,
        k: int = 8,
        format: str = "markdown",
        max_tokens: int | None = None,
        filters: Any = None,
        facts: Sequence[str | dict | Any] | str | None = None,
        *,
        cached_only: bool = False,
    ) -> bytes | None:
        return self._answer(
            _key("prompt", situation, k, format, max_tokens, filters, facts),
            lambda: self.prompt(situation, k, format, max_tokens, filters, facts),
            cached_only,
        )

    # --- index maintenance ------------------------------------------------------------------------------------
    def build(self, kind: str = "auto", rebuild: bool = False, progress: bool = False) -> "BuildReport":
        """Create or bring up to date the index at ``<home>/index`` (incremental; unchanged texts come from the
        embedding cache)."""
        require_installed()
        from normgraph.index.maintenance import build

        with self._open_lock:
            if self._build_embedder is None:
                from normgraph.embed import default_cache_path
                from normgraph.embed.cache import CachedEmbedder, EmbeddingCache

                self._build_embedder = CachedEmbedder(self.model(), EmbeddingCache(default_cache_path(self.settings.home)))
            embedder = self._build_embedder
        report = build(self.store, self.settings.home, embedder, kind=kind, rebuild=rebuild, progress=progress)  # type: ignore[arg-type]
        self.invalidate()
        self.last_build = report
        return report

    def build_if_needed(self, changed: bool, progress: bool = False) -> "BuildReport | None":
        """After an ingest: build when it changed the store, or when the index is missing, does not hold as
        many statements as the store (an earlier ingest deferred it) or was built with another model/backend."""
        if not changed:
            st = self.status()
            if st.exists and st.live == self.store.stats().statements and st.model_id == self._configured_model_id():
                return None
        return self.build(progress=progress)

    def _configured_model_id(self) -> str | None:
        """The configured model's id without loading it (an ingest that changed nothing should not load torch
        or ONNX Runtime just to compare ids); None when it cannot be found, which the build then reports."""
        from normgraph.embed.model_files import model_id_of

        try:
            return model_id_of(self.settings.embedding_model, self.settings.embedding_backend)
        except InvalidInput:
            return None

    def status(self) -> "IndexStatus":
        require_installed()
        from normgraph.index.maintenance import status

        return status(self.settings.home)

    def verify(self) -> "VerifyReport":
        """Drift between the store and the index, including an index built with another model than the
        configured one."""
        require_installed()
        from normgraph.index.maintenance import verify

        return verify(self.store, self.settings.home, self.model().model_id)

    # --- internals --------------------------------------------------------------------------------------------
    def _check(self, query: Any, k: Any, filters: Any, mode: Any, facts: Any) -> Any:
        """The caller's input, checked before anything is loaded or opened."""
        require_installed()
        from normgraph.frames.grammar import coerce_constraints
        from normgraph.retrieval import check_query, coerce_filters

        check_query(query, k)
        if mode not in _MODES:
            raise InvalidInput(f"unknown mode {mode!r}; use hybrid, dense or lexical", {"mode": mode})
        f = coerce_filters(filters)
        if facts:
            coerce_constraints(facts)
        return f

    def _current_generation(self) -> int | None:
        """The index generation answers must come from, re-read from disk every couple of seconds."""
        with self._lock:
            retriever, generation = self._retriever, self._generation
            due = time.monotonic() - self._generation_checked >= _GENERATION_CHECK_SECONDS
            if retriever is None:
                return None
            if due:
                self._generation_checked = time.monotonic()
        if due:
            on_disk = retriever.index.generation_on_disk()
            if on_disk is not None and on_disk != generation:
                with self._lock:
                    self._generation = generation = on_disk
        return generation

    def _answer(self, key: bytes | None, compute: Callable[[], BaseModel], cached_only: bool) -> bytes | None:
        """The JSON of ``compute()`` through the answer cache; ``None`` on a miss when ``cached_only``."""
        hit = self._cached(key)
        if hit is not None or cached_only:
            return hit
        result = compute()
        answer = result.__pydantic_serializer__.to_json(result)
        self._remember(key, answer)
        return answer

    def _cached(self, key: bytes | None) -> bytes | None:
        if key is None or self._answers.budget <= 0:
            return None
        generation = self._current_generation()
        return None if generation is None else self._answers.get(key, generation)

    def _remember(self, key: bytes | None, answer: bytes) -> None:
        if key is None or self._answers.budget <= 0:
            return
        with self._lock:
            retriever = self._retriever
        if retriever is None:
            return
        # The generation the answer was computed from (the retriever switches generations on its own).
        self._answers.put(key, answer, retriever.index.generation)
