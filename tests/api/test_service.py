"""What the API relies on in the composition root: cached answers never outlive a write, read-only services
refuse writes, unknown sources are named."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from normgraph.errors import InvalidInput, NotFound, StoreError
from normgraph.services import NormBankService
from normgraph.settings import Settings
from tests.api.demo_facts import CUSTOMER, TODDLER, load_demo_home


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return load_demo_home(tmp_path / "home")


def test_a_cached_answer_is_dropped_when_the_service_ingests(home: Path, tmp_path: Path) -> None:
    extra = tmp_path / "extra.jsonl"
    extra.write_text(
        json.dumps(
            {"text": "In a restaurant, a teen customer shouting is unexpected.", "setting": "restaurant", "behavior": "hum",
             "label": "unexpected", "frame": CUSTOMER}
        )
        + "\n"
    )
    with NormBankService(Settings(home=home, embed_on_ingest=False)) as svc:
        before = orjson.loads(svc.query_json("restaurant", "hum", [CUSTOMER]))
        assert before["results"] == []
        assert svc.query_json("restaurant", "hum", [CUSTOMER]) == svc.query_json("restaurant", "hum", [CUSTOMER])
        summary = svc.ingest("jsonl", extra)
        assert summary.loaded == 1
        after = orjson.loads(svc.query_json("restaurant", "hum", [CUSTOMER]))
        assert [r["label"] for r in after["results"]] == ["unexpected"]


def test_query_json_is_the_query_result(home: Path) -> None:
    with NormBankService(Settings(home=home)) as svc:
        as_model = svc.query("restaurant", "shout", [CUSTOMER, TODDLER])
        as_json = orjson.loads(svc.query_json("restaurant", "shout", [CUSTOMER, TODDLER]))
        assert as_json == orjson.loads(as_model.model_dump_json())
        # an unhashable (structured dict) fact is answered too, just not from the cache
        structured = orjson.loads(svc.query_json("restaurant", "shout", [{"subject": "person", "attribute": "role", "value": "customer"}, TODDLER]))
        assert structured == as_json


def test_a_read_only_service_answers_but_refuses_writes(home: Path, tmp_path: Path) -> None:
    with NormBankService(Settings(home=home, read_only=True)) as svc:
        assert svc.store.read_only is True
        assert svc.query("restaurant", "shout", [CUSTOMER]).results[0].label.value == "unexpected"
        with pytest.raises(StoreError, match="read-only"):
            svc.load_demo(with_taxonomy=False)
        with pytest.raises(StoreError, match="read-only"):
            svc.ingest("jsonl", tmp_path / "whatever.jsonl")


def test_an_unknown_source_names_the_known_ones(home: Path, tmp_path: Path) -> None:
    with NormBankService(Settings(home=home)) as svc:
        with pytest.raises(InvalidInput) as e:
            svc.ingest("no-such-reader", tmp_path / "x")
    assert "no-such-reader" in e.value.message
    assert {"normbank", "normbank-taxonomy", "jsonl", "concepts"} <= set(e.value.details["known"])


def test_limits_outside_the_configured_range_are_refused(home: Path) -> None:
    with NormBankService(Settings(home=home, max_page_limit=5)) as svc:
        assert len(svc.list_settings(limit=5).items) == 5
        with pytest.raises(InvalidInput, match="between 1 and 5"):
            svc.list_settings(limit=6)
        with pytest.raises(InvalidInput):
            svc.query("restaurant", limit=0)
        with pytest.raises(NotFound):
            svc.get_setting("   ")
