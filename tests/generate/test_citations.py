"""The citation checker on crafted model output: cited ids must come from the context; invented ones are
removed and reported; sentences that cite nothing are flagged."""

from __future__ import annotations

from normgraph.generate.answer import check_citations

FUNERAL = "n-934d650abef336aa"
LIVESTREAM = "n-584b0542aa10eca0"
CONTEXT = {FUNERAL, LIVESTREAM}


def test_ids_from_the_context_are_kept_in_order_of_citation() -> None:
    c = check_citations(f"Silence your phone [{FUNERAL}]. Streaming for family abroad is fine [{LIVESTREAM}].", CONTEXT)
    assert c.cited == [FUNERAL, LIVESTREAM] and c.invented == [] and c.uncited == []


def test_an_invented_id_is_removed_and_reported() -> None:
    invented = "n-0123456789abcdef"
    c = check_citations(f"Silence your phone [{FUNERAL}, {invented}]. Leave the room [{invented}].", CONTEXT)
    assert c.invented == [invented]
    assert invented not in c.text and FUNERAL in c.text
    assert c.uncited == ["Leave the room."]  # its only citation was invented


def test_mangled_and_bare_ids_count_as_citations() -> None:
    c = check_citations(f"It is rude {FUNERAL} and so is n-934d65 here.", CONTEXT)
    assert c.cited == [FUNERAL] and c.invented == ["n-934d65"]
    assert "n-934d65 " not in c.text


def test_a_citation_after_the_full_stop_belongs_to_its_sentence() -> None:
    c = check_citations(f"Silence your phone. [{FUNERAL}] Then sit down quietly.", CONTEXT)
    assert c.uncited == ["Then sit down quietly."]


def test_ordinary_brackets_are_not_citations() -> None:
    c = check_citations("Ask the host first [if you can]. Nothing else.", CONTEXT)
    assert c.cited == [] and c.invented == [] and "[if you can]" in c.text
    assert len(c.uncited) == 2
