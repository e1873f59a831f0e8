"""The source registry: every reader's licence comes from it, and CC BY-SA sources carry their share-alike notice."""

from __future__ import annotations

import importlib

import pytest

from normgraph.source_registry import SOURCES, attribution_notices, licence_of, source_info
from normgraph.sources import available_sources

READER_MODULES = {
    "normbank": "ingest.sources.normbank",
    "normbank-taxonomy": "ingest.sources.normbank_taxonomy",
    "social-chem": "ingest.sources.social_chem",
    "valueprism": "ingest.sources.valueprism",
    "moral-stories": "ingest.sources.moral_stories",
    "ethics": "ingest.sources.ethics",
    "privacylens": "ingest.sources.privacylens",
    "values": "ingest.sources.values",
    "udhr": "ingest.sources.udhr",
    "mfd": "ingest.sources.mfd",
}


@pytest.mark.parametrize("name", sorted(READER_MODULES))
def test_each_reader_stamps_the_registry_licence(name):
    module = importlib.import_module(READER_MODULES[name])
    assert module.SOURCE == name
    assert module.LICENCE == licence_of(name) and module.LICENCE


def test_every_registered_reader_with_a_licence_is_in_the_registry():
    readers = available_sources()
    assert set(READER_MODULES) <= set(readers)
    assert set(READER_MODULES) <= set(SOURCES)


def test_share_alike_sources_say_so_and_link_the_licence():
    social = source_info("social-chem")
    assert social is not None and social.share_alike and social.licence == "CC BY-SA 4.0"
    notice = social.notice()
    assert "Forbes" in notice and "creativecommons.org/licenses/by-sa/4.0" in notice and "Share-alike" in notice
    ethics = source_info("ethics")
    assert ethics is not None and not ethics.share_alike and "Share-alike" not in ethics.notice()


def test_notices_for_unregistered_sources_name_their_stated_licences():
    notes = attribution_notices(["mine", "udhr"], {"mine": {"CC0"}})
    assert len(notes) == 2
    assert notes[0].startswith("mine: not a registered source") and "CC0" in notes[0]
    assert "Universal Declaration of Human Rights" in notes[1]
