"""Generator backends behind one protocol (``base.GeneratorBackend``), opened from the settings.

One backend per process and configuration (``shared_backend``): the API's workers, the CLI and the tests of
one process share the loaded model, as retrieval shares its encoder.
"""

from __future__ import annotations

import threading

from normgraph.errors import GeneratorUnavailable
from normgraph.generate.backends.base import ChatMessage, Completion, DecodingParams, GeneratorBackend
from normgraph.settings import Settings

BACKENDS = ("transformers", "openai")

__all__ = ["BACKENDS", "ChatMessage", "Completion", "DecodingParams", "GeneratorBackend", "open_backend", "shared_backend"]


def open_backend(settings: Settings) -> GeneratorBackend:
    """The backend the settings name, loaded (in process) or connected (HTTP). Raises ``GeneratorUnavailable``
    naming the setting to fix."""
    backend = settings.generator_backend
    if backend == "transformers":
        from normgraph.generate.backends import model_files
        from normgraph.generate.backends.transformers_backend import TransformersBackend

        return TransformersBackend(
            model_files.resolve(settings.generator_model, settings.home), threads=settings.generator_threads
        )
    if backend == "openai":
        if not settings.generator_base_url:
            raise GeneratorUnavailable(
                "the openai generator backend needs NORMGRAPH_GENERATOR_BASE_URL (e.g. http://127.0.0.1:8080/v1)",
                {"backend": backend},
            )
        try:
            from normgraph.generate.backends.openai_http import OpenAIBackend
        except ImportError:
            raise GeneratorUnavailable(
                "the openai generator backend needs httpx: pip install 'normgraph[generate]'"
            ) from None
        return OpenAIBackend(
            settings.generator_base_url,
            settings.generator_model,
            timeout=settings.generator_timeout,
            retries=settings.generator_retries,
            api_key=settings.generator_api_key,
        )
    raise GeneratorUnavailable(
        f"unknown generator backend {backend!r}; use one of {', '.join(BACKENDS)} (NORMGRAPH_GENERATOR_BACKEND)",
        {"backend": backend, "known": list(BACKENDS)},
    )


_BACKENDS: dict[tuple[object, ...], GeneratorBackend] = {}
_LOCK = threading.Lock()


def _key(settings: Settings) -> tuple[object, ...]:
    if settings.generator_backend == "transformers":
        from normgraph.generate.backends import model_files

        # By the folder the weights load from, so homes that share one converted model share its memory too.
        source = model_files.resolve(settings.generator_model, settings.home)
        where = str(source.folder.resolve()) if isinstance(source, model_files.ModelSource) else source
        return ("transformers", where, settings.generator_threads)
    return (
        settings.generator_backend,
        settings.generator_model,
        settings.generator_base_url,
        settings.generator_api_key,
        settings.generator_timeout,
        settings.generator_retries,
    )


def shared_backend(settings: Settings) -> GeneratorBackend:
    key = _key(settings)
    with _LOCK:
        backend = _BACKENDS.get(key)
        if backend is None:
            backend = open_backend(settings)
            _BACKENDS[key] = backend
        return backend
