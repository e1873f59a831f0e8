"""GET /v1/norms/{id} (with provenance) and GET /healthz."""

from __future__ import annotations

from fastapi.testclient import TestClient

import normgraph
from tests.api.demo_facts import assert_error, demo_rows, stored_id


def test_a_norm_by_id_has_its_content_and_provenance(client: TestClient) -> None:
    row = next(r for r in demo_rows() if r["id"] == "demo-restaurant-shout-2")
    resp = client.get(f"/v1/norms/{stored_id(row['id'])}")
    assert resp.status_code == 200, resp.text
    norm = resp.json()
    assert norm["id"] == stored_id(row["id"])
    assert norm["kind"] == "norm"
    assert norm["text"] == row["text"]
    assert norm["label"] == row["label"]
    assert norm["setting"] == row["setting"]
    assert {c["attribute"] for c in norm["constraints"]} == {"role", "age bracket"}
    prov = norm["provenance"]
    assert prov["source"] == row["source"]
    assert prov["created_at"]


def test_an_unknown_norm_id_is_404_naming_it(client: TestClient) -> None:
    err = assert_error(client.get("/v1/norms/n-0000000000000000"), 404, "not_found")
    assert "n-0000000000000000" in err["message"]


def test_healthz_reports_the_store_and_its_size(client: TestClient) -> None:
    resp = client.get("/healthz")
    assert resp.status_code == 200
    h = resp.json()
    assert h["ok"] is True
    assert h["store"] == "oxigraph"
    assert h["read_only"] is False
    assert h["statements"] == len({r["id"] for r in demo_rows()})
    assert h["version"] == normgraph.__version__


def test_the_openapi_document_describes_the_endpoints(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for path, method in [
        ("/v1/norms/query", "post"),
        ("/v1/norms/{statement_id}", "get"),
        ("/v1/settings", "get"),
        ("/v1/settings/{name}", "get"),
        ("/healthz", "get"),
    ]:
        op = paths[path][method]
        assert op.get("summary"), path
        assert "200" in op["responses"], path
    query = paths["/v1/norms/query"]["post"]
    assert "$ref" in str(query["responses"]["200"]["content"]["application/json"]["schema"])
    assert "422" in query["responses"] and "404" in query["responses"]
    assert doc["components"]["schemas"]["QueryRequest"].get("examples")


def test_a_worker_loads_its_label_indexes_before_its_first_request(app_settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient as Client

    from api.app import create_app
    from normgraph.models import ConceptScheme

    # A second app over the same store, read-only as each of several workers opens it, before any request.
    with Client(create_app(app_settings.model_copy(update={"read_only": True}))) as c:
        store = c.app.state.service.store  # type: ignore[attr-defined]
        assert {ConceptScheme.setting, ConceptScheme.behavior} <= set(store._label_index)
        assert c.post("/v1/norms/query", json={"setting": "restaurant", "behavior": "yell"}).status_code == 200
