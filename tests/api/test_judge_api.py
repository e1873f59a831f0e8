"""POST /v1/judge and /v1/judge/batch on the demo bank: the real default encoder (int8), a real index built by
``load_demo`` in a tmp home, the shipped judge weights and the real app in-process.

The opposite-norm table uses behaviours that plainly carry out the norm's behaviour: the label then flips by
construction (the norm's polarity flips, the relation does not), never by a small numeric margin."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from normgraph.judge.schemas import MAX_BATCH, MAX_BEHAVIOR_CHARS
from normgraph.services import NormBankService
from normgraph.settings import Settings
from tests.api.demo_facts import CUSTOMER, TODDLER, assert_error, demo_rows, stored_id


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("judge-template")
    with NormBankService(Settings(home=home)) as svc:
        assert not any(s.rejected for s in svc.load_demo(with_taxonomy=False))
    return home


def _copy(template: Path, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    home = tmp_path_factory.mktemp(name) / "home"
    shutil.copytree(template, home)
    return home


@pytest.fixture(scope="module")
def client(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(home=_copy(template, tmp_path_factory, "judge-app")))) as c:
        yield c


def judge(client: TestClient, **body: Any) -> dict[str, Any]:
    resp = client.post("/v1/judge", json=body)
    assert resp.status_code == 200, resp.text
    out = resp.json()
    check_answer(out)
    return out


def check_answer(out: dict[str, Any]) -> None:
    scores = out["scores"]
    assert set(scores) == {"expected", "okay", "unexpected"}
    assert abs(sum(scores.values()) - 1) < 2e-3
    assert out["label"] == max(scores, key=scores.get)
    assert [t["stage"] for t in out["trace"]] == ["supplied_norms", "frame_resolution", "retrieval", "model_prior"]
    assert [t["stage"] for t in out["trace"] if t["outcome"] == "decided"] == [out["method"]]
    assert out["evidence"], "an answer without evidence is a bug"


def demo_id(text: str) -> str:
    return stored_id(next(r for r in demo_rows() if r["text"] == text)["id"])


# --- 1. the caller's norm is followed, and the opposite norm gives the opposite answer ------------------------

# (behaviour, the norm's behaviour phrase): the behaviour plainly does it.
OPPOSITES = [
    ("I ate dinner with my hands", "eat with your hands"),
    ("I shouted at the waiter in the restaurant", "shout at waiters"),
    ("I took off my shoes before entering my friend's house", "take off your shoes before entering a house"),
    ("I tipped the taxi driver twenty percent", "tip taxi drivers"),
    ("I bowed to my teacher when I arrived", "bow to your teacher"),
    ("I wore a hat during the dinner", "wear a hat during dinner"),
    ("I slurped my noodles loudly", "slurp your noodles"),
    ("I called my boss by her first name", "call your boss by their first name"),
    ("I hugged a stranger on the street", "hug strangers"),
    ("I arrived thirty minutes late to the party", "arrive late to parties"),
    ("I brought my dog to the office", "bring your dog to work"),
    ("I ate the last slice of pizza without asking", "eat the last slice without asking"),
    ("I kissed my friend on both cheeks to greet her", "greet friends with a kiss on both cheeks"),
    ("I paid for everyone's dinner", "pay for everyone's dinner"),
    ("I played loud music late at night", "play loud music at night"),
    ("I haggled over the price at the market", "haggle over prices at the market"),
    ("I gave my host a gift when I visited", "bring a gift for your host"),
    ("I wore white clothes to the funeral", "wear white to a funeral"),
    ("I talked about politics at the family dinner", "talk about politics at dinner"),
    ("I cut in line at the bank", "cut in line"),
    ("I left food on my plate at the end of the meal", "leave food on your plate"),
    ("I spoke loudly on my phone on the train", "talk loudly on the phone on the train"),
]


@pytest.mark.parametrize(("behavior", "phrase"), OPPOSITES)
def test_the_opposite_supplied_norm_gives_the_opposite_label(client: TestClient, behavior: str, phrase: str) -> None:
    worded = [
        (f"In this community it is expected to {phrase}.", f"In this community it is rude to {phrase}."),
        (f"You should {phrase}.", f"You shouldn't {phrase}."),
        ({"text": phrase, "label": "expected"}, {"text": phrase, "label": "unexpected"}),
    ]
    for yes, no in worded:
        a = judge(client, behavior=behavior, norms=[yes])
        b = judge(client, behavior=behavior, norms=[no])
        assert (a["method"], b["method"]) == ("supplied_norms", "supplied_norms"), (yes, a["trace"], b["trace"])
        assert (a["label"], b["label"]) == ("expected", "unexpected"), (yes, a["evidence"], b["evidence"])
        assert a["evidence"][0]["relation"] == "supplied" and a["evidence"][0]["score"] > 0.5


@pytest.mark.xfail(strict=True, reason="the relation head over frozen sentence vectors reads 'kept my shoes on' as "
                   "carrying out 'take off your shoes' (docs/decisions/0009-judge.md: a cross-encoder is the next step)")
def test_going_against_a_norm_is_judged_against_it(client: TestClient) -> None:
    out = judge(client, behavior="I kept my shoes on inside my friend's house",
                norms=["In this community you should take off your shoes before entering a house."])
    assert (out["method"], out["label"]) == ("supplied_norms", "unexpected")
    assert out["evidence"][0]["score"] < 0.5


def test_a_supplied_norm_that_does_not_bear_on_the_behaviour_does_not_decide(client: TestClient) -> None:
    out = judge(client, behavior="I ate dinner with my hands", norms=["You shouldn't park in front of a fire hydrant."])
    assert out["method"] != "supplied_norms"
    first = out["trace"][0]
    assert first["outcome"] == "gave_way" and "bears" in first["reason"]
    supplied = [e for e in out["evidence"] if e["relation"] == "supplied"]
    assert supplied and supplied[0]["label"] is None and "not relevant" in supplied[0]["note"]


def test_of_two_supplied_norms_the_relevant_one_decides(client: TestClient) -> None:
    out = judge(client, behavior="I ate dinner with my hands",
                norms=["You shouldn't park in front of a fire hydrant.", "In this community it is expected to eat with your hands."])
    assert (out["method"], out["label"]) == ("supplied_norms", "expected")


# --- 2. stage order -----------------------------------------------------------------------------------------


def test_bank_frame_resolution_decides_for_a_known_setting_and_behaviour(client: TestClient) -> None:
    out = judge(client, behavior="shout", setting="restaurant", facts=[CUSTOMER])
    assert (out["method"], out["label"]) == ("frame_resolution", "unexpected")
    applicable = [e for e in out["evidence"] if e["relation"] == "applicable"]
    assert demo_id("In a restaurant, a customer shouting is unexpected.") in {e["id"] for e in applicable}
    assert any(e["relation"] == "conditional" for e in out["evidence"])  # the toddler norm: "would hold if …"

    toddler = judge(client, behavior="shout", setting="restaurant", facts=[CUSTOMER, TODDLER])
    assert (toddler["method"], toddler["label"]) == ("frame_resolution", "okay")
    assert any(e["relation"] == "defeated" for e in toddler["evidence"])


def test_country_is_a_fact_of_frame_resolution(client: TestClient) -> None:
    japan = judge(client, behavior="leave a tip", setting="restaurant", facts=[CUSTOMER], country="Japan")
    usa = judge(client, behavior="leave a tip", setting="restaurant", facts=[CUSTOMER], country="United States")
    assert (japan["method"], japan["label"]) == ("frame_resolution", "unexpected")
    assert (usa["method"], usa["label"]) == ("frame_resolution", "expected")


def test_a_supplied_norm_beats_the_bank(client: TestClient) -> None:
    out = judge(client, behavior="shout", setting="restaurant", facts=[CUSTOMER],
                norms=["In this community it is expected to shout in restaurants."])
    assert (out["method"], out["label"]) == ("supplied_norms", "expected")
    assert [t["outcome"] for t in out["trace"][1:]] == ["skipped", "skipped", "skipped"]


def test_retrieval_gives_way_when_nothing_relevant_is_found(client: TestClient) -> None:
    out = judge(client, behavior="I recalibrated the telescope mirror before the observation run")
    retrieval = out["trace"][2]
    assert retrieval["outcome"] == "gave_way" and "no relevant neighbour" in retrieval["reason"]
    assert out["method"] == "model_prior"
    assert [e["relation"] for e in out["evidence"]] == ["model"]


def test_retrieval_decides_from_relevant_neighbours(client: TestClient) -> None:
    out = judge(client, behavior="using my phone during the funeral service")
    assert (out["method"], out["label"]) == ("retrieval", "unexpected"), out["trace"]
    retrieved = [e for e in out["evidence"] if e["relation"] == "retrieved"]
    assert retrieved and all(e["id"] and e["relevance"] is not None for e in retrieved)
    assert demo_id("At a funeral, a mourner using their phone during the service is unexpected.") in {e["id"] for e in retrieved}


def test_an_unknown_setting_makes_frame_resolution_give_way(client: TestClient) -> None:
    out = judge(client, behavior="I recalibrated the telescope mirror", setting="moon base")
    assert out["trace"][1]["outcome"] == "gave_way" and "moon base" in out["trace"][1]["reason"]


# --- batch ------------------------------------------------------------------------------------------------


def test_batch_answers_each_item_in_order_as_single_requests_do(client: TestClient) -> None:
    items = [
        {"behavior": "shout", "setting": "restaurant", "facts": [CUSTOMER]},
        {"behavior": "I ate dinner with my hands", "norms": ["In this community it is expected to eat with your hands."]},
        {"behavior": "I recalibrated the telescope mirror before the observation run"},
    ]
    resp = client.post("/v1/judge/batch", json={"items": items})
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["method"] for r in results] == ["frame_resolution", "supplied_norms", "model_prior"]
    for item, r in zip(items, results):
        check_answer(r)
        assert r == judge(client, **item)


# --- bad input ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"behavior": ""},
        {"behavior": "   "},
        {"behavior": "x" * (MAX_BEHAVIOR_CHARS + 1)},
        {},
        {"behavior": "shout", "colour": "red"},
        {"behavior": "shout", "norms": [""]},
        {"behavior": "shout", "norms": [{"text": "be quiet", "label": "mandatory"}]},
        {"behavior": "shout", "setting": " "},
        {"behavior": "shout", "norms": ["n"] * 33},
    ],
)
def test_bad_requests_are_422_in_the_error_shape(client: TestClient, body: dict[str, Any]) -> None:
    assert_error(client.post("/v1/judge", json=body), 422, "validation_error")


def test_bad_facts_are_422_constraint_syntax(client: TestClient) -> None:
    assert_error(client.post("/v1/judge", json={"behavior": "shout", "setting": "restaurant", "facts": ["customer"]}), 422, "constraint_syntax")


@pytest.mark.parametrize("n", [0, MAX_BATCH + 1])
def test_batch_size_is_bounded(client: TestClient, n: int) -> None:
    assert_error(client.post("/v1/judge/batch", json={"items": [{"behavior": "shout"}] * n}), 422, "validation_error")


def test_one_bad_item_fails_the_batch_naming_it(client: TestClient) -> None:
    body = assert_error(client.post("/v1/judge/batch", json={"items": [{"behavior": "shout"}, {"behavior": ""}]}), 422)
    assert "items.1.behavior" in body["message"]


def test_an_unknown_judge_model_is_503(template: Path, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    settings = Settings(home=_copy(template, tmp_path_factory, "judge-bad-model"), judge_model=tmp_path / "no-such-model")
    with TestClient(create_app(settings)) as c:
        body = assert_error(c.post("/v1/judge", json={"behavior": "shout"}), 503, "judge_unavailable")
        assert "no-such-model" in body["message"]
