"""The one ``NormBankService`` of a server process: opened when the app starts (lifespan), closed when it
stops, handed to handlers as a dependency. Each uvicorn worker is its own process with its own service."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, AsyncIterator, Callable

from fastapi import Depends, FastAPI, Request

from normgraph.serving import prepare_for_serving
from normgraph.services import NormBankService
from normgraph.settings import Settings


def service_lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service = NormBankService(settings)
        # Before the worker takes requests, so its first frame query does not load the label indexes.
        prepare_for_serving(service.store)
        # The model and the index load in the background (seconds), so the first /v1/retrieve does not wait
        # for them and every other endpoint answers at once.
        service.retrieval.preload()
        app.state.service = service
        try:
            yield
        finally:
            app.state.service = None
            service.close()

    return lifespan


# async on purpose: FastAPI runs sync dependencies in a thread pool, which costs more than this lookup.
async def get_service(request: Request) -> NormBankService:
    service: NormBankService = request.app.state.service
    return service


ServiceDep = Annotated[NormBankService, Depends(get_service)]
