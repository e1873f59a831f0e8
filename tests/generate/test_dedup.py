"""Dedup of proposals against the bank, directly: the retrieval service's own encoder and index on the demo
bank (no model of its own)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from normgraph.generate.dedup import check_duplicate
from normgraph.models import Label
from normgraph.services import NormBankService
from normgraph.settings import Settings
from tests.api.demo_facts import demo_rows, stored_id
from tests.generate.conftest import copy_home

FUNERAL = "At a funeral, a mourner using their phone during the service is unexpected."


@pytest.fixture(scope="module")
def service(indexed_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NormBankService]:
    with NormBankService(Settings(home=copy_home(indexed_template, tmp_path_factory, "dedup"))) as svc:
        yield svc


def test_a_proposal_equal_to_a_stored_norm_is_a_duplicate(service: NormBankService) -> None:
    funeral_id = stored_id(next(r for r in demo_rows() if r["text"] == FUNERAL)["id"])
    verdict, _ = check_duplicate(service.retrieval.retriever(), FUNERAL, Label.unexpected)
    assert verdict.duplicate_of is not None and verdict.duplicate_of.id == funeral_id
    assert verdict.duplicate_of.similarity > 0.99


def test_the_same_words_with_another_label_are_a_conflict_not_a_duplicate(service: NormBankService) -> None:
    verdict, _ = check_duplicate(service.retrieval.retriever(), FUNERAL, Label.okay)
    assert verdict.duplicate_of is None
    assert verdict.conflicts_with is not None and verdict.conflicts_with.label is Label.unexpected


def test_a_new_norm_is_neither(service: NormBankService) -> None:
    verdict, _ = check_duplicate(service.retrieval.retriever(), "In a library, a patron eating a sandwich at a desk is unexpected.", Label.unexpected)
    assert verdict.duplicate_of is None and verdict.conflicts_with is None
