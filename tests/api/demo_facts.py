"""What the tests know about the demo bank, read from the demo files themselves (never hard-coded counts),
and the one assertion every error response must pass."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from normgraph.ids import KIND_PREFIX, statement_id
from normgraph.services import DEMO_BANK, NormBankService
from normgraph.settings import Settings

CUSTOMER = "[PERSON]'s role is 'customer'"
TODDLER = "[PERSON]'s age bracket is 'toddler'"


def demo_rows() -> list[dict[str, Any]]:
    rows = []
    for line in DEMO_BANK.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            rows.append(json.loads(line))
    return rows


def stored_id(demo_id: str) -> str:
    """The store id of a demo row: the JSONL reader keys a row's own ``id`` by its kind and source."""
    row = next(r for r in demo_rows() if r["id"] == demo_id)
    return statement_id(KIND_PREFIX[row.get("kind", "norm")], row["source"], demo_id)


def demo_setting_counts() -> Counter[str]:
    return Counter(r["setting"] for r in demo_rows())


def load_demo_home(home: Path) -> Path:
    """A data home whose store holds the demo bank (and its taxonomy), loaded through the service, without a
    retrieval index (tests that need one build it: tests/api/test_retrieval_api.py)."""
    with NormBankService(Settings(home=home, embed_on_ingest=False)) as svc:
        summaries = svc.load_demo(with_taxonomy=False)
    rejected = {s.source: s.rejected for s in summaries if s.rejected}
    assert not rejected, f"the demo files have rejected rows: {rejected}"
    return home


def assert_error(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The one error shape: {"error": {"code", "message", "details"}}, nothing else, no internals."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert "Traceback" not in resp.text
    if code is not None:
        assert err["code"] == code, err
    return err
