"""The generator over HTTP: ``POST /v1/generate`` proposes norms for a frame (stored as ``proposed``, never
answering a query until a curator approves them) and ``POST /v1/answer`` answers a question from the bank's
retrieved context with checked citations.

Both run a model for seconds, so they are plain ``def`` handlers: FastAPI runs them in its thread pool and
the event loop keeps answering everything else meanwhile.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api.deps import ServiceDep
from api.schemas import ERROR_RESPONSES, ErrorResponse, FactList, FactString, json_response
from normgraph.generate.answer import AnswerResult
from normgraph.generate.backends.base import MAX_NEW_TOKENS, MAX_SEED
from normgraph.generate.generate import DEFAULT_N, MAX_N, MAX_SETTING_CHARS, GenerateResult
from normgraph.generate.parse import MAX_BEHAVIOR_CHARS
from normgraph.prompting import MAX_MAX_TOKENS, MIN_MAX_TOKENS
from normgraph.retrieval import MAX_K, MAX_QUERY_CHARS

router = APIRouter(prefix="/v1", tags=["generator"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "the setting names no setting of this bank"},
    422: {
        "model": ErrorResponse,
        "description": "invalid request: empty or too long text, n or decoding parameters out of range, constraint "
        "syntax in facts, facts that cannot hold together",
    },
    500: ERROR_RESPONSES[500],
    503: {
        "model": ErrorResponse,
        "description": "the generator cannot run (`generator_unavailable`: unknown backend, model not found, "
        "endpoint down or erroring — the message names the setting to fix), no retrieval index "
        "(`index_missing`, `index_out_of_date`), or a read-only store for `store: true` (`store_error`)",
    },
    504: {"model": ErrorResponse, "description": "the generator endpoint did not answer in time (`generator_timeout`)"},
}


class _Decoding(BaseModel):
    seed: int | None = Field(None, ge=0, le=MAX_SEED, strict=True, description="fixes the sample; drawn at random and reported when left out")
    temperature: float | None = Field(None, ge=0.0, le=2.0, description="0 decodes greedily")
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_new_tokens: int | None = Field(None, ge=1, le=MAX_NEW_TOKENS, strict=True)


class GenerateRequest(_Decoding):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"setting": "library", "behavior": "eat food", "facts": ["[PERSON]'s role is 'patron'"], "n": 3, "seed": 7},
                {"setting": "restaurant", "facts": ["[PERSON]'s role is 'customer'"], "n": 2, "store": False},
            ]
        },
    )

    setting: str = Field(min_length=1, max_length=MAX_SETTING_CHARS, description="setting name or alias")
    behavior: str | None = Field(
        None, min_length=1, max_length=MAX_BEHAVIOR_CHARS, description="the behaviour judged; omit to let the model choose"
    )
    facts: FactList | FactString = Field(default_factory=list, description="the frame: conditions every proposal keeps")
    n: int = Field(DEFAULT_N, ge=1, le=MAX_N, strict=True, description="how many proposals to sample")
    store: bool = Field(True, strict=True, description="write the new proposals to the bank as `proposed`; false only shows them")


class AnswerRequest(_Decoding):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "my phone rings during a funeral: what should I do?", "k": 4, "seed": 3}]},
    )

    question: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="the question, with its situation, in plain words")
    setting: str | None = Field(None, min_length=1, max_length=MAX_SETTING_CHARS, description="only context from this setting or a broader one")
    facts: FactList | FactString | None = Field(None, description="with `setting`: what holds, to rank norms by frame resolution")
    k: int = Field(6, ge=1, le=MAX_K, strict=True, description="at most this many context items")
    max_tokens: int | None = Field(None, ge=MIN_MAX_TOKENS, le=MAX_MAX_TOKENS, strict=True, description="token budget of the context block")


@router.post(
    "/generate",
    response_model=GenerateResult,
    summary="Propose labelled norms for a frame",
    description=(
        "Samples `n` norms for the setting (and behaviour, if given) under the facts, validates each with the "
        "constraint grammar (repairing or re-sampling invalid output), drops those the bank already holds "
        "(embedding similarity, same label) and stores the rest with `review_state: proposed` and provenance "
        "(model, template, decoding parameters, seed). Proposed norms answer no query until approved."
    ),
    responses=_RESPONSES,
)
def generate(body: GenerateRequest, service: ServiceDep) -> Response:
    result = service.generate(
        body.setting,
        body.behavior,
        body.facts,
        body.n,
        seed=body.seed,
        temperature=body.temperature,
        top_p=body.top_p,
        max_new_tokens=body.max_new_tokens,
        store=body.store,
    )
    return json_response(result)


@router.post(
    "/answer",
    response_model=AnswerResult,
    summary="Answer a question from the bank, with checked citations",
    description=(
        "Retrieves the context block for the question (as `POST /v1/prompt`), asks the model to answer from it "
        "alone citing ids, then checks every cited id against the context: invented ids are removed and listed "
        "in `invented_ids`, sentences without a citation are listed in `uncited`."
    ),
    responses=_RESPONSES,
)
def answer(body: AnswerRequest, service: ServiceDep) -> Response:
    result = service.answer(
        body.question,
        body.setting,
        body.facts,
        k=body.k,
        max_tokens=body.max_tokens,
        seed=body.seed,
        temperature=body.temperature,
        top_p=body.top_p,
        max_new_tokens=body.max_new_tokens,
    )
    return json_response(result)
