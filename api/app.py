"""The FastAPI app factory. uvicorn imports it by string (``api.app:create_app`` with ``--factory``), so
each worker process builds its own app and opens its own store in the lifespan."""

from __future__ import annotations

from fastapi import FastAPI

import normgraph
from api.deps import service_lifespan
from api.docs import install_docs
from api.errors import install_error_handlers
from api.limits import BodySizeLimit
from api.openapi import install_openapi
from api.security import SecurityHeaders
from api.routers import health, norms, settings as settings_router, situations
from api.routers import generate, judge, retrieval
from normgraph.settings import Settings

DESCRIPTION = """
A knowledge-graph norm bank: situational norms with the constraint frames under which they hold.

* `POST /v1/norms/query` resolves what is expected, okay or unexpected in a setting given facts, with the
  evidence (applicable, defeated and conditional norms, conflicts).
* `GET /v1/settings`, `GET /v1/settings/{name}` browse the taxonomy; `GET /v1/norms/{id}` returns a statement
  with its provenance.
* `GET /v1/situations/{id}` (or `?text=`) returns a situation with the rules of thumb, values, rights, duties
  and norms linked to it, and the attribution their sources' licences ask for.
* `POST /v1/retrieve` finds the statements most relevant to a free-text situation (hybrid dense + BM25 with
  graph filters); `POST /v1/prompt` assembles them into a context block for an agent, with citation ids.
* `POST /v1/judge` (and `/v1/judge/batch`) judges a behaviour expected, okay or unexpected from the caller's
  own norms, the bank's frames, its nearest statements and a model prior, naming the stage that decided.
* `POST /v1/generate` proposes norms for a frame (stored as `proposed` until a curator approves them);
  `POST /v1/answer` answers a question from the retrieved context, its citations checked against it.

Every error has one shape: `{"error": {"code", "message", "details"}}`. Lists are cursor-paginated
(`limit`, `cursor` → `next_cursor`).
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="normgraph",
        version=normgraph.__version__,
        description=DESCRIPTION,
        lifespan=service_lifespan(settings),
        docs_url=None,  # served by api.docs from local assets
        redoc_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(SecurityHeaders)  # added last, so it wraps everything, the 413s included
    install_docs(app)
    install_openapi(app, settings)
    app.include_router(health.router)
    app.include_router(norms.router)
    app.include_router(settings_router.router)
    app.include_router(situations.router)
    app.include_router(retrieval.router)
    app.include_router(judge.router)
    app.include_router(generate.router)
    return app
