"""The generator end to end with the real SmolLM2-135M-Instruct in process, through the real app on a copy of
the demo bank: proposals are grammar-valid, stored as proposed with full provenance, reproducible from their
seed, and answer no query until a curator approves them; answers cite only their context.

Nothing here asserts on wording: only on structure, states, provenance and ids."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from normgraph.frames.grammar import format_frame, parse_frame
from normgraph.generate.prompts import ANSWER_TEMPLATE, GENERATE_TEMPLATE
from normgraph.models import Norm, ReviewState

pytestmark = pytest.mark.slow

PATRON = "[PERSON]'s role is 'patron'"
# Seed and length fixed: the same request must give the same samples (CPU, same batch).
FRAME: dict[str, Any] = {"setting": "library", "behavior": "eat food", "facts": [PATRON], "n": 2, "seed": 7, "max_new_tokens": 48}


@pytest.fixture(scope="module")
def generated(model_client: TestClient) -> dict[str, Any]:
    resp = model_client.post("/v1/generate", json=FRAME)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _query_ids(client: TestClient) -> set[str]:
    resp = client.post("/v1/norms/query", json={"setting": "library", "behavior": "eat food", "facts": [PATRON]})
    assert resp.status_code == 200, resp.text
    ids: set[str] = set()
    for r in resp.json()["results"]:
        for key in ("norms", "defeated", "conditional"):
            for item in r.get(key) or []:
                ids.add(item["norm"]["id"] if "norm" in item else item["id"])
    return ids


def test_proposals_are_grammar_valid_and_stored_as_proposed_with_provenance(generated: dict[str, Any], model_client: TestClient) -> None:
    # Three rounds of re-sampling make at least one valid proposal all but certain even for a 135M model.
    assert generated["proposals"], generated["invalid"]
    assert generated["stored"] == len(generated["proposals"])
    assert generated["template"] == GENERATE_TEMPLATE and generated["decoding"]["seed"] == 7
    for p in generated["proposals"]:
        norm = Norm.model_validate(p["norm"])
        assert parse_frame(format_frame(norm.constraints)) == norm.constraints
        assert parse_frame(PATRON)[0] in norm.constraints  # the frame asked for is kept
        assert norm.setting == "library" and norm.behavior == "eat food"
        assert norm.review_state is ReviewState.proposed and p["stored"]
        prov = norm.provenance
        assert prov.source == "generated" and prov.generated_by == generated["model"]
        assert {"backend", "template", "seed", "temperature", "top_p", "max_new_tokens", "attempt"} <= set(prov.generation)
        assert prov.generation["template"] == GENERATE_TEMPLATE and prov.generation["max_new_tokens"] == 48
        stored = model_client.get(f"/v1/norms/{norm.id}").json()
        assert stored["review_state"] == "proposed" and stored["provenance"]["generation"] == prov.generation
    for bad in generated["invalid"]:
        assert bad["reason"] and bad["raw"] is not None


def test_the_same_seed_gives_the_same_samples_which_are_now_duplicates(generated: dict[str, Any], model_client: TestClient) -> None:
    again = model_client.post("/v1/generate", json={**FRAME, "store": False}).json()
    assert again["proposals"] == []
    stored_ids = {p["norm"]["id"] for p in generated["proposals"]}
    assert stored_ids <= {d["duplicate_of"] for d in again["duplicates"]}
    assert [i["raw"] for i in again["invalid"]] == [i["raw"] for i in generated["invalid"]]


def test_proposals_answer_no_query_until_approved(generated: dict[str, Any], model_client: TestClient) -> None:
    ids = {p["norm"]["id"] for p in generated["proposals"]}
    assert not ids & _query_ids(model_client)
    text = generated["proposals"][0]["norm"]["text"]
    found = model_client.post("/v1/retrieve", json={"query": text, "k": 10}).json()["results"]
    assert not ids & {r["id"] for r in found}
    # They are indexed (so their absence above is the review-state filter at work, not a missing index entry).
    asked = model_client.post("/v1/retrieve", json={"query": text, "k": 10, "filters": {"review_states": ["proposed"]}}).json()
    assert ids & {r["id"] for r in asked["results"]}

    service = model_client.app.state.service  # type: ignore[attr-defined]
    approved = sorted(ids)[0]
    service.store.set_review_state(approved, ReviewState.approved, reviewer="test curator")
    service.refresh()
    assert approved in _query_ids(model_client)


def test_an_answer_cites_only_its_context(model_client: TestClient) -> None:
    resp = model_client.post(
        "/v1/answer",
        json={"question": "my phone rings during a funeral: what should I do?", "k": 3, "seed": 3, "max_new_tokens": 40},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["template"] == ANSWER_TEMPLATE and body["context_ids"]
    assert {c["id"] for c in body["citations"]} <= set(body["context_ids"])
    for invented in body["invented_ids"]:
        assert invented not in body["context_ids"] and invented not in body["answer"]
    assert body["grounded"] == (bool(body["citations"]) and not body["uncited"])
    assert body["completion_tokens"] > 0 and body["judgment"] is None
