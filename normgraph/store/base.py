"""The ``GraphStore`` protocol: the bank's storage, in domain terms.

Backends are chosen by name (``open_store("oxigraph", path)``) and advertise what they can do through
``capabilities``. One contract test suite (``tests/contract``) runs against every available backend.

Identity: statements are keyed by their content-derived ``id``; concepts by ``id`` (``setting/restaurant``).
Settings and behaviours are referred to from statements by their *label*; ``find_concept`` resolves a label
or alias to the concept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator, Literal, Protocol, Sequence, runtime_checkable

from normgraph.models import (
    AnyStatement,
    Concept,
    ConceptScheme,
    Kind,
    Norm,
    ReviewState,
    StoreStats,
)

# Review states that answer queries unless the caller asks otherwise (DESIGN §1).
ANSWERING_STATES: frozenset[ReviewState] = frozenset({ReviewState.approved, ReviewState.trusted})

ExportFormat = Literal["turtle", "jsonld", "ntriples"]

CAP_SPARQL = "sparql"
CAP_TRANSACTIONS = "transactions"
CAP_RDF_EXPORT = "rdf_export"


@dataclass
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __iadd__(self, other: "UpsertResult") -> "UpsertResult":
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        return self


@runtime_checkable
class GraphStore(Protocol):
    name: str
    capabilities: frozenset[str]
    read_only: bool

    # --- writes -----------------------------------------------------------------------------------------
    def upsert_statements(self, items: Iterable[AnyStatement]) -> UpsertResult:
        """Insert or replace statements by id, in one transaction per call. Identical content is unchanged."""

    def upsert_concepts(self, items: Iterable[Concept]) -> UpsertResult:
        """Insert concepts or merge into existing ones: alt labels, broader and related settings are unioned,
        the existing preferred label is kept."""

    def set_review_state(self, statement_id: str, state: ReviewState, reviewer: str | None = None) -> AnyStatement:
        """Raise ``NotFound`` for an unknown id."""

    def delete_statements(self, ids: Iterable[str]) -> int:
        """Delete these statements (their own triples, and constraint nodes no statement links any more) in one
        transaction; unknown ids are skipped. Returns how many were deleted. Concepts stay: the taxonomy is
        not owned by the statements that mention it. The retrieval index notices on its next build."""

    # --- reads ------------------------------------------------------------------------------------------
    def get_statement(self, statement_id: str) -> AnyStatement | None: ...

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of these statement ids are stored (for duplicate counting in ingest summaries)."""

    def candidates(
        self,
        settings: Sequence[str],
        behaviors: Sequence[str] | None = None,
        review_states: frozenset[ReviewState] = ANSWERING_STATES,
    ) -> list[Norm]:
        """Norms whose setting label is one of ``settings`` and, if given, whose behaviour label is one of
        ``behaviors``; ordered by id."""

    def behavior_counts(
        self, settings: Sequence[str], review_states: frozenset[ReviewState] = ANSWERING_STATES
    ) -> dict[str | None, int]:
        """Behaviour label -> how many norms whose setting label is one of ``settings`` are about it, ordered
        by label, with ``None`` (first) counting the norms without a behaviour; behaviours with no such norm are
        absent. Each label, passed to ``candidates`` with the same settings and review states, returns exactly
        the norms it counts (a behaviour written several ways, "Shout"/"shout", is one label). Lets a caller page
        over a big setting's behaviours before reading any norm."""

    def iter_statements(self, kinds: Sequence[Kind] | None = None) -> Iterator[AnyStatement]:
        """Every statement (of these kinds), ordered by id."""

    def get_concept(self, concept_id: str) -> Concept | None: ...

    def find_concept(self, scheme: ConceptScheme, label: str) -> Concept | None:
        """The concept whose preferred or alternative label normalises to ``label``'s (or, failing that, whose
        id ``label`` derives: "Leave a tip." finds ``behavior/leave-a-tip``)."""

    def linked_statements(self, concept_id: str, limit: int | None = None) -> list[AnyStatement]:
        """Statements whose setting, behaviour, situation or moral foundation is this concept, ordered by id
        (at most ``limit``): how the graph reaches everything written for one situation or about one
        behaviour, across sources."""

    def count_linked(self, concept_id: str) -> int:
        """How many statements ``linked_statements`` would return without a limit."""

    def find_concepts(self, scheme: ConceptScheme, label: str) -> list[Concept]:
        """Every concept that ``label`` names, as preferred or alternative label: the one whose preferred label
        it is first. An alias can collide with another concept's preferred label ("yell")."""

    def concepts(self, scheme: ConceptScheme, related_setting: str | None = None) -> list[Concept]:
        """Concepts of a scheme (optionally only those related to a setting id), ordered by id."""

    def broader_closure(self, concept_id: str) -> list[str]:
        """The concept and all its ``skos:broader`` ancestors, nearest first (cycles are cut)."""

    def norm_counts_by_setting(self) -> dict[str, int]:
        """Setting label -> number of statements in that setting."""

    def stats(self) -> StoreStats: ...

    def warm(self) -> None:
        """Load what the first frame query would otherwise load on demand (e.g. label indexes), so a server
        can do it at start-up. Reads only; a no-op for a backend with nothing to load."""

    def export(self, fmt: ExportFormat, out: BinaryIO) -> None:
        """Write the whole bank as RDF (statements, concepts, provenance) using the normgraph ontology."""

    def close(self) -> None: ...
