"""The judge: is a behaviour expected, okay or unexpected here, and which stage decided (DESIGN §5).

Judging encodes text (milliseconds on a CPU), so it runs in the thread pool, never on the event loop.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from api.deps import ServiceDep
from api.schemas import ERROR_RESPONSES, ErrorResponse
from normgraph.judge.schemas import MAX_BATCH, MAX_BEHAVIOR_CHARS, JudgeBatchRequest, JudgeBatchResult, JudgeRequest, JudgeResult

router = APIRouter(prefix="/v1", tags=["judge"])

_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorResponse,
        "description": f"invalid request: blank or over-long text (behaviour at most {MAX_BEHAVIOR_CHARS} characters), "
        f"more than {MAX_BATCH} items, unknown fields, constraint syntax in facts, incompatible facts",
    },
    500: ERROR_RESPONSES[500],
    503: {
        "model": ErrorResponse,
        "description": "the judge's model (`judge_unavailable`: NORMGRAPH_JUDGE_MODEL names no model) or the "
        "embedding model (`retrieval_unavailable`) cannot be loaded",
    },
}

_DESCRIPTION = (
    "Stages, in order of authority, the first that can decide does: (1) the caller's `norms` — followed over "
    "the bank's, read as the norm's polarity (\"it's good to\", \"you shouldn't\", \"it's rude to\" …, or the "
    "`label` given) times whether the behaviour carries out or goes against what the norm is about; a norm "
    "that does not bear on the behaviour does not decide; (2) frame resolution over the bank for a known "
    "`setting` (with `facts` and `country`); (3) the bank's nearest statements, only those similar enough, "
    "weighted by similarity; (4) the judge's own classifier of the behaviour. `method` names the stage that "
    "decided, `trace` what each stage did, `evidence` what it rested on."
)


@router.post("/judge", response_model=JudgeResult, summary="Judge a behaviour: expected, okay or unexpected",
             description=_DESCRIPTION, responses=_RESPONSES)
def judge(body: JudgeRequest, service: ServiceDep) -> Response:  # plain def: FastAPI runs it in the thread pool
    answer = service.judge.judge_json(body)
    return Response(content=answer, media_type="application/json")


@router.post("/judge/batch", response_model=JudgeBatchResult, summary=f"Judge up to {MAX_BATCH} behaviours",
             description="Each item as `POST /v1/judge` takes it; the results in the same order. Every item is "
             "checked before any is judged, so a bad item fails the whole batch with a 422 naming it.",
             responses=_RESPONSES)
def judge_batch(body: JudgeBatchRequest, service: ServiceDep) -> Response:
    answer = service.judge.judge_batch_json(body.items)
    return Response(content=answer, media_type="application/json")
