"""The embedded default store: Oxigraph (``pyoxigraph``) with RocksDB on disk.

Statements and concepts are real RDF in the normgraph ontology (``normgraph.store.rdf_mapping``), plus one
``ng:payload`` JSON literal each so that reading one back is a single index lookup
(docs/decisions/0001-oxigraph-store-and-payload.md).

Writes: one atomic write per ``upsert_*`` call, built as N-Triples text (parsed in Rust). A batch that only
adds triples goes through Oxigraph's bulk loader (one atomic RocksDB ingestion, see ``_write``) or, when
small, a transaction; a batch that replaces stored statements is one SPARQL update (delete the old triples,
insert the new, drop constraint nodes nobody links any more). Every write bumps a generation counter that
empties the read caches (candidates, label index, closures, stats).

Several processes may open the same store read-only (RocksDB read-only instances see the store as it was when
opened); only one may open it for writing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, BinaryIO, Callable, Hashable, Iterable, Iterator, Sequence

import orjson
from pyoxigraph import BlankNode, DefaultGraph, Literal, NamedNode, QuerySolutions, QueryTriples, RdfFormat, Store, Triple, parse, serialize

from normgraph.errors import InvalidInput, NotFound, StoreError, StoreLocked
from normgraph.ids import normalise_text
from normgraph.models import (
    AnyStatement,
    Concept,
    ConceptScheme,
    Constraint,
    Kind,
    Label,
    Norm,
    Provenance,
    ReviewState,
    RuleOfThumb,
    StoreStats,
    ValueRightDuty,
)
from normgraph.ontology import PREFIXES, SCHEME_IRI, SCHEME_OF_IRI, ontology_text
from normgraph.source_registry import attribution_notices
from normgraph.store import rdf_mapping as m
from normgraph.store.base import (
    ANSWERING_STATES,
    CAP_RDF_EXPORT,
    CAP_SPARQL,
    CAP_TRANSACTIONS,
    ExportFormat,
    UpsertResult,
)

_FORMATS: dict[str, RdfFormat] = {
    "turtle": RdfFormat.TURTLE,
    "ntriples": RdfFormat.N_TRIPLES,
    "jsonld": RdfFormat.JSON_LD,
}
_STATEMENT_TYPES = (Norm, RuleOfThumb, ValueRightDuty)
_KIND_VALUES = " ".join(m.iri(c) for c in m.KIND_CLASS.values())
_CACHE_SIZE = 4096
# The candidates cache holds payload strings, not decoded norms: a decoded norm is ~13 objects the cyclic garbage
# collector traverses, and with 100k of them cached each full collection took 1-3 s here (the 155k benchmark's
# setting-only p99), while 100k strings cost it nothing. Decoding again on a hit is ~13 us per norm. At ~0.7 KB
# a norm, this bound (the whole 155k bank, with room) is ~180 MB at worst.
_CANDIDATE_CACHE_NORMS = 250_000
# One entry per (setting, behaviour) context or per setting: ~5k contexts at 155k norms.
_CANDIDATE_ENTRIES = 65_536
# Statements read by id (retrieval hits, GET /v1/norms/{id}): ~20k decoded statements is ~40-80 MB at most.
_STATEMENT_CACHE = 20_000
# Batches of new triples in this range take Oxigraph's bulk path (see _write); smaller ones a transaction.
_BULK_MIN_TRIPLES = 2_000
_BULK_MAX_TRIPLES = 900_000
_ID_SET_MIN_BATCH = 500

_P_PAYLOAD = NamedNode(m.NG_PAYLOAD)
_P_TYPE = NamedNode(m.RDF_TYPE)
_P_BROADER = NamedNode(m.SKOS_BROADER)
_P_PREF_LABEL = NamedNode(m.SKOS_PREF_LABEL)
_P_CONTEXT = NamedNode(m.NG_CONTEXT)
_NORM_CLASS = m.KIND_CLASS[Kind.norm]
_STATE_OF_IRI = {iri: state._value_ for state, iri in m.REVIEW_STATE_IRI.items()}
_C_CONSTRAINT = NamedNode(m.NG_CONSTRAINT_CLASS)
_C_CONCEPT = NamedNode(m.SKOS_CONCEPT)
_C_SCHEME = NamedNode(m.SKOS_CONCEPT_SCHEME)
_DEFAULT = DefaultGraph()



def _value(term: NamedNode | BlankNode | Literal | Triple) -> str:
    """The lexical value of a subject or object the store's own writes put there (never an RDF-star triple)."""
    if isinstance(term, Triple):
        raise StoreError("unexpected RDF-star triple term in the store")
    return term.value

class _Lru:
    """A small bounded LRU; callers hold the store's lock. ``max_weight`` bounds the sum of the entries'
    weights (e.g. norms held), so a few huge results cannot grow the process without limit."""

    def __init__(self, size: int, max_weight: int | None = None) -> None:
        self.size = size
        self.max_weight = max_weight
        self.weight = 0
        self.data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        hit = self.data.get(key)
        if hit is None:
            return None
        self.data.move_to_end(key)
        return hit[0]

    def put(self, key: Hashable, value: Any, weight: int = 1) -> None:
        old = self.data.pop(key, None)
        if old is not None:
            self.weight -= old[1]
        self.data[key] = (value, weight)
        self.weight += weight
        while self.data and (
            len(self.data) > self.size or (self.max_weight is not None and self.weight > self.max_weight)
        ):
            _, (_, w) = self.data.popitem(last=False)
            self.weight -= w

    def clear(self) -> None:
        self.data.clear()
        self.weight = 0


class OxigraphStore:
    name = "oxigraph"
    capabilities = frozenset({CAP_SPARQL, CAP_TRANSACTIONS, CAP_RDF_EXPORT})

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        self.read_only = read_only
        self._db: Store | None = _open(self.path, read_only)
        self._lock = threading.RLock()  # guards caches and the generation counter
        self._write_lock = threading.RLock()  # one writer at a time within the process
        self._generation = 0
        self._candidates = _Lru(_CANDIDATE_ENTRIES, max_weight=_CANDIDATE_CACHE_NORMS)
        self._behaviors = _Lru(_CACHE_SIZE)
        self._closures = _Lru(_CACHE_SIZE)
        self._concepts = _Lru(_CACHE_SIZE)
        self._statements = _Lru(_STATEMENT_CACHE)
        self._label_index: dict[ConceptScheme, dict[str, tuple[str, ...]]] = {}
        self._stats: StoreStats | None = None
        self._setting_counts: dict[str, int] | None = None
        # Shared nodes known to exist, so a batch only checks the ones it has not seen yet. Concepts are never
        # deleted; constraint nodes can be (when orphaned), which clears the set.
        self._known_concepts: set[str] = set()
        self._known_constraints: set[str] = set()
        # IRIs of every stored statement, loaded by the first large batch: a batch of new statements then needs
        # no lookups at all (a random lookup costs 15-100 us, i.e. seconds over a 155k-row ingest), while
        # loading the set costs ~1 s per 100k statements, too much for a curator's single edit.
        self._statement_iris: set[str] | None = None
        if not read_only:
            self._ensure_schemes()

    # --- lifecycle --------------------------------------------------------------------------------------------
    @property
    def db(self) -> Store:
        db = self._db
        if db is None:
            raise StoreError(f"the store at {self.path} is closed", {"path": str(self.path)})
        return db

    def close(self) -> None:
        with self._write_lock:
            db, self._db = self._db, None
            if db is not None and not self.read_only:
                # Without a flush, the next open replays RocksDB's write-ahead log, which is slow on big stores.
                db.flush()
        self._invalidate()

    def __enter__(self) -> "OxigraphStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OxigraphStore({str(self.path)!r}, read_only={self.read_only})"

    def sparql(self, query: str) -> Any:
        """Run a SPARQL query (prefixes of the ontology predeclared): the ``sparql`` capability."""
        try:
            return self.db.query(query, prefixes=PREFIXES)
        except SyntaxError as e:
            raise InvalidInput(f"invalid SPARQL: {e}", {"query": query}) from None

    # --- writes -----------------------------------------------------------------------------------------------
    def upsert_statements(self, items: Iterable[AnyStatement]) -> UpsertResult:
        self._check_writable()
        batch: list[tuple[AnyStatement, str]] = []
        for st in items:
            if not isinstance(st, _STATEMENT_TYPES):
                raise InvalidInput(
                    f"upsert_statements takes Norm, RuleOfThumb or ValueRightDuty, not {type(st).__name__}"
                )
            batch.append((st, st.model_dump_json()))
        result = UpsertResult()
        if not batch:
            return result
        with self._write_lock:
            known = self._known_statements(len(batch))
            ids = [st.id for st, _ in batch]
            stored = self._stored_payloads(
                m.statement_iri, ids if known is None else [i for i in ids if m.statement_iri(i) in known]
            )
            write = _sequential(result, batch, stored)
            if not write:
                return result
            lines: list[str] = []
            sources: dict[str, Provenance] = {}
            activities: dict[str, None] = {}
            constraints: dict[str, Constraint] = {}
            refs: dict[str, tuple[ConceptScheme, str, Any, Provenance]] = {}
            for st, payload in write.values():
                lines += m.statement_lines(st, payload)
                prov = st.provenance
                sources.setdefault(m.source_iri(prov), prov)
                if prov.generated_by:
                    activities[prov.generated_by] = None
                if isinstance(st, Norm):
                    for c in st.constraints:
                        constraints.setdefault(m.constraint_iri(c), c)
                for ref_iri, scheme, label, subject in m.concept_refs(st):
                    if ref_iri not in refs:
                        refs[ref_iri] = (scheme, label, subject, prov)
            for prov in sources.values():
                lines += m.source_lines(prov)
            for model in activities:
                lines += m.activity_lines(model)
            new_constraints = [i for i in constraints if not self._exists(i, self._known_constraints, _C_CONSTRAINT)]
            for i in new_constraints:
                lines += m.constraint_lines(constraints[i])
            new_concepts = [i for i in refs if not self._exists(i, self._known_concepts, _C_CONCEPT)]
            for i in new_concepts:
                concept = m.minimal_concept(*refs[i])
                lines += m.concept_lines(concept, concept.model_dump_json())
            replaced = [i for i in write if i in stored]
            orphans: set[str] = set()
            for i in replaced:
                for c in orjson.loads(stored[i]).get("constraints") or ():
                    orphans.add(m.constraint_iri(Constraint.model_validate(c)))
            orphans.difference_update(constraints)
            try:
                self._write(lines, [m.statement_iri(i) for i in replaced], sorted(orphans))
            finally:
                self._invalidate()
            self._known_constraints.update(new_constraints)
            self._known_concepts.update(new_concepts)
            if known is not None:
                known.update(m.statement_iri(i) for i in write)
            if orphans:
                self._known_constraints.clear()
        return result

    def upsert_concepts(self, items: Iterable[Concept]) -> UpsertResult:
        self._check_writable()
        batch: list[Concept] = []
        for c in items:
            if not isinstance(c, Concept):
                raise InvalidInput(f"upsert_concepts takes Concept, not {type(c).__name__}")
            batch.append(c)
        result = UpsertResult()
        if not batch:
            return result
        with self._write_lock:
            stored_payloads = self._stored_payloads(m.concept_iri, [c.id for c in batch])
            stored = {i: m.decode_concept(p) for i, p in stored_payloads.items()}
            current: dict[str, Concept] = dict(stored)
            changed: set[str] = set()
            for c in batch:
                old = current.get(c.id)
                if old is None:
                    result.inserted += 1
                    current[c.id] = c
                    changed.add(c.id)
                    continue
                if old.scheme is not c.scheme:
                    raise InvalidInput(
                        f"concept {c.id!r} is in scheme {old.scheme.value!r}, not {c.scheme.value!r}",
                        {"id": c.id, "scheme": c.scheme.value, "stored_scheme": old.scheme.value},
                    )
                merged = m.merge_concept(old, c)
                if merged == old:
                    result.unchanged += 1
                    continue
                result.updated += 1
                current[c.id] = merged
                changed.add(c.id)
            write = [current[i] for i in sorted(changed) if stored.get(i) != current[i]]
            if not write:
                return result
            lines: list[str] = []
            for c in write:
                lines += m.concept_lines(c, c.model_dump_json())
            for prov in {m.source_iri(c.provenance): c.provenance for c in write}.values():
                lines += m.source_lines(prov)
            for model in sorted({c.provenance.generated_by for c in write if c.provenance.generated_by}):
                lines += m.activity_lines(model)
            try:
                self._write(lines, [m.concept_iri(c.id) for c in write if c.id in stored], [])
            finally:
                self._invalidate()
            self._known_concepts.update(m.concept_iri(c.id) for c in write)
        return result

    def set_review_state(self, statement_id: str, state: ReviewState, reviewer: str | None = None) -> AnyStatement:
        self._check_writable()
        state = ReviewState(state)
        with self._write_lock:
            st = self.get_statement(statement_id)
            if st is None:
                raise NotFound(f"no statement with id {statement_id!r}", {"id": statement_id})
            prov = st.provenance if reviewer is None else st.provenance.model_copy(update={"reviewer": reviewer})
            updated = st.model_copy(update={"review_state": state, "provenance": prov})
            self.upsert_statements([updated])
        return updated

    def delete_statements(self, ids: Iterable[str]) -> int:
        self._check_writable()
        if isinstance(ids, str):
            raise InvalidInput("delete_statements takes a sequence of ids, not one string")
        with self._write_lock:
            stored = self._stored_payloads(m.statement_iri, ids)
            if not stored:
                return 0
            orphans: set[str] = set()
            for payload in stored.values():
                for c in orjson.loads(payload).get("constraints") or ():
                    orphans.add(m.constraint_iri(Constraint.model_validate(c)))
            subjects = " ".join(m.iri(m.statement_iri(i)) for i in sorted(stored))
            ops = ["DELETE { ?s ?p ?o } WHERE { VALUES ?s { " + subjects + " } ?s ?p ?o }"]
            if orphans:
                # Constraint nodes are shared between statements: only those nobody links any more go.
                ops.append(
                    "DELETE { ?c ?p ?o } WHERE { VALUES ?c { " + " ".join(map(m.iri, sorted(orphans))) + " } "
                    "?c ?p ?o FILTER NOT EXISTS { ?x ng:constraint ?c } }"
                )
            try:
                self.db.update(" ;\n".join(ops), prefixes=PREFIXES)
            except OSError as e:
                raise StoreError(f"writing to the store at {self.path} failed: {e}", {"path": str(self.path)}) from None
            finally:
                self._invalidate()
            if self._statement_iris is not None:
                self._statement_iris.difference_update(m.statement_iri(i) for i in stored)
            if orphans:
                self._known_constraints.clear()
        return len(stored)

    # --- reads ------------------------------------------------------------------------------------------------
    def get_statement(self, statement_id: str) -> AnyStatement | None:
        # Cached: retrieval reads its k hits back by id on every query, and a random payload read from RocksDB
        # costs 0.2-0.8 ms here, more than searching the index. Statements are frozen models.
        found: AnyStatement | None = self._read_cached(self._statements, statement_id, m.statement_iri, m.decode_statement)
        return found

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        unique = set(ids)
        with self._write_lock:  # the set of stored ids is maintained by the writers
            known = self._known_statements(len(unique))
        if known is None:
            return {i for i in unique if self._payload(m.statement_iri(i)) is not None}
        return {i for i in unique if m.statement_iri(i) in known}

    def candidates(
        self,
        settings: Sequence[str],
        behaviors: Sequence[str] | None = None,
        review_states: frozenset[ReviewState] = ANSWERING_STATES,
    ) -> list[Norm]:
        """See ``GraphStore.candidates``. The payloads read are cached per (setting, behaviour) context, or per
        setting when no behaviour is given, until the next write; every call decodes its own norms."""
        if isinstance(settings, str) or isinstance(behaviors, str):
            raise InvalidInput("settings and behaviors are sequences of labels, not one string")
        setting_iris = sorted({m.setting_iri(s) for s in settings})
        states = {ReviewState(s)._value_ for s in review_states}
        if not setting_iris or not states:
            return []
        if behaviors is None:
            keys = setting_iris
        else:
            behavior_iris = {m.behavior_iri(b) for b in behaviors}
            keys = sorted({m.context_iri_of(s, b) for s in setting_iris for b in behavior_iris})
        decoded: dict[str, Norm] = {}
        chosen: dict[str, str] = {}
        for entry in self._candidate_entries(keys, behaviors is not None, decoded):
            for sid, state, payload in entry:
                if state in states:
                    chosen[sid] = payload
        return [decoded.get(i) or m.decode_statement(chosen[i]) for i in sorted(chosen)]  # type: ignore[misc]

    def _candidate_entries(
        self, keys: Sequence[str], by_context: bool, decoded: dict[str, Norm]
    ) -> list[tuple[tuple[str, str, str], ...]]:
        """The cached (id, review state, payload) of the norms of each context (or setting) IRI in ``keys``,
        ordered by id; what is not cached yet is read in one query, and the norms decoded for it are left in
        ``decoded`` so this call does not decode them twice."""
        with self._lock:
            found = {k: self._candidates.get(k) for k in keys}
            generation = self._generation
        missing = [k for k, v in found.items() if v is None]
        if missing:
            fetched: dict[str, list[tuple[str, str, str]]] = {k: [] for k in missing}
            for row in self._select(_candidates_query(missing, by_context)):
                payload = row[1].value
                st = m.decode_statement(payload)
                if isinstance(st, Norm):
                    fetched[row[0].value].append((st.id, st.review_state._value_, payload))
                    decoded[st.id] = st
            with self._lock:
                for k, rows in fetched.items():
                    entry = tuple(sorted(rows))
                    found[k] = entry
                    if generation == self._generation:
                        self._candidates.put(k, entry, weight=len(entry) + 1)
        return [found[k] for k in keys]

    def behavior_counts(
        self, settings: Sequence[str], review_states: frozenset[ReviewState] = ANSWERING_STATES
    ) -> dict[str | None, int]:
        """See ``GraphStore.behavior_counts``. Counted per setting from the triples (no payload is read) and
        cached until the next write."""
        if isinstance(settings, str):
            raise InvalidInput("settings is a sequence of labels, not one string")
        states = {ReviewState(s)._value_ for s in review_states}
        counts: dict[str | None, int] = {}
        labels: dict[str, str] = {}
        for setting in sorted({m.setting_iri(s) for s in settings}):
            for behavior, label, state, n in self._setting_behaviors(setting):
                if state in states:
                    counts[behavior] = counts.get(behavior, 0) + n
                    if behavior is not None and label is not None:
                        labels.setdefault(behavior, label)
        out: dict[str | None, int] = {None: counts[None]} if None in counts else {}
        # Labels round-trip to their IRI (see _setting_behaviors), so two IRIs never share one.
        for label, n in sorted((labels[b], n) for b, n in counts.items() if b is not None):
            out[label] = n
        return out

    def _setting_behaviors(self, setting: str) -> tuple[tuple[str | None, str | None, str, int], ...]:
        """(behaviour IRI or None, a label naming it, review state, count) of the norms of one setting IRI."""
        with self._lock:
            hit: tuple[tuple[str | None, str | None, str, int], ...] | None = self._behaviors.get(setting)
            generation = self._generation
        if hit is not None:
            return hit
        node = m.iri(setting)
        rows: list[tuple[str | None, str | None, str, int]] = []
        seen = 0
        # The kind is grouped on rather than matched: a constant ``a ng:Norm`` could start the join from every norm.
        for b, kind, state, n in self._select(
            f"SELECT ?b ?k ?rs (COUNT(?s) AS ?n) WHERE {{ ?s ng:setting {node} ; ng:behavior ?b ; a ?k ; "
            "ng:reviewState ?rs } GROUP BY ?b ?k ?rs"
        ):
            seen += int(n.value)
            if kind.value == _NORM_CLASS and state.value in _STATE_OF_IRI:
                rows.append((b.value, None, _STATE_OF_IRI[state.value], int(n.value)))
        total = self._select(f"SELECT (COUNT(?s) AS ?n) WHERE {{ ?s ng:setting {node} }}")
        if total and int(total[0][0].value) > seen:  # rare: statements without a behaviour
            for kind, state, n in self._select(
                f"SELECT ?k ?rs (COUNT(?s) AS ?n) WHERE {{ ?s ng:setting {node} ; a ?k ; ng:reviewState ?rs "
                "FILTER NOT EXISTS { ?s ng:behavior ?b } } GROUP BY ?k ?rs"
            ):
                if kind.value == _NORM_CLASS and state.value in _STATE_OF_IRI:
                    rows.append((None, None, _STATE_OF_IRI[state.value], int(n.value)))
        named = {b: self._behavior_label(setting, b) for b in {r[0] for r in rows} if b is not None}
        result = tuple((b, named.get(b) if b is not None else None, state, n) for b, _, state, n in rows)
        with self._lock:
            if generation == self._generation:
                self._behaviors.put(setting, result)
        return result

    def _behavior_label(self, setting: str, behavior: str) -> str:
        """A label that ``candidates`` maps back to this behaviour IRI: the concept's preferred label when it
        does (the usual case), else the label a statement of the (setting, behaviour) pair was written with."""
        label = self._pref_label(behavior)
        if label is not None and m.behavior_iri(label) == behavior:
            return label
        context = NamedNode(m.context_iri_of(setting, behavior))
        for q in self.db.quads_for_pattern(None, _P_CONTEXT, context, _DEFAULT):
            payload = self._payload(_value(q.subject))
            if payload is not None:
                written: str = orjson.loads(payload)["behavior"]
                return written
        return label or m.concept_id_of(behavior)

    def warm(self) -> None:
        """Load the label indexes that frame queries resolve settings and behaviours through (all concepts of
        both schemes, ~0.5 s at 15k concepts), so a server's first request does not pay for them."""
        self._labels(ConceptScheme.setting)
        self._labels(ConceptScheme.behavior)

    def iter_statements(self, kinds: Sequence[Kind] | None = None) -> Iterator[AnyStatement]:
        classes = (
            _KIND_VALUES if kinds is None else " ".join(m.iri(m.KIND_CLASS[Kind(k)]) for k in kinds)
        )
        if not classes:
            return
        query = "SELECT ?s WHERE { VALUES ?cls { " + classes + " } ?s a ?cls }"
        ids = sorted(m.statement_id_of(row[0].value) for row in self._select(query))
        for i in ids:
            payload = self._payload(m.statement_iri(i))
            if payload is not None:  # deleted meanwhile
                yield m.decode_statement(payload)

    def get_concept(self, concept_id: str) -> Concept | None:
        # Cached: every frame query resolves its setting and behaviour through find_concept.
        hit = self._read_cached(self._concepts, concept_id, m.concept_iri, m.decode_concept)
        return None if hit is None else hit.model_copy()  # callers may modify their copy; the cached one stays

    def find_concept(self, scheme: ConceptScheme, label: str) -> Concept | None:
        scheme = ConceptScheme(scheme)
        ids = self._labels(scheme).get(normalise_text(label))
        if ids:
            return self.get_concept(ids[0])
        # Ids are derived from labels with punctuation folded away: "Leave a tip." names behavior/leave-a-tip.
        found = self.get_concept(m.node_id(scheme, label)) if label.strip() else None
        return found if found is not None and found.scheme is scheme else None

    def find_concepts(self, scheme: ConceptScheme, label: str) -> list[Concept]:
        ids = self._labels(ConceptScheme(scheme)).get(normalise_text(label), ())
        return [c for c in (self.get_concept(i) for i in ids) if c is not None]

    def linked_statements(self, concept_id: str, limit: int | None = None) -> list[AnyStatement]:
        """Statements whose setting, behaviour, situation or moral foundation is this concept, ordered by id
        (the first ``limit``)."""
        ids = sorted(m.statement_id_of(row[0].value) for row in self._select(_linked_query(concept_id, "?s")))
        if limit is not None:
            ids = ids[: max(0, limit)]
        out = []
        for i in ids:
            payload = self._payload(m.statement_iri(i))
            if payload is not None:
                out.append(m.decode_statement(payload))
        return out

    def count_linked(self, concept_id: str) -> int:
        rows = self._select(_linked_query(concept_id, "(COUNT(DISTINCT ?s) AS ?n)"))
        return int(rows[0][0].value) if rows else 0

    def concepts(self, scheme: ConceptScheme, related_setting: str | None = None) -> list[Concept]:
        scheme = ConceptScheme(scheme)
        scheme_iri = m.iri(SCHEME_IRI[scheme])
        if related_setting is None:
            query = f"SELECT ?p WHERE {{ ?c skos:inScheme {scheme_iri} ; a skos:Concept ; ng:payload ?p }}"
        else:  # start from the setting: it has a few related concepts, a scheme has up to thousands
            query = (
                f"SELECT ?p WHERE {{ ?c ng:relatedSetting {m.iri(m.concept_iri(related_setting))} ; "
                f"skos:inScheme ?scheme . FILTER(?scheme = {scheme_iri}) ?c ng:payload ?p }}"
            )
        found = [m.decode_concept(row[0].value) for row in self._select(query)]
        found.sort(key=lambda c: c.id)
        return found

    def broader_closure(self, concept_id: str) -> list[str]:
        with self._lock:
            hit = self._closures.get(concept_id)
            generation = self._generation
        if hit is not None:
            return list(hit)
        db = self.db
        order = [concept_id]
        seen = {concept_id}
        frontier = [concept_id]
        while frontier:
            nxt: list[str] = []
            for cid in frontier:
                for q in db.quads_for_pattern(NamedNode(m.concept_iri(cid)), _P_BROADER, None, _DEFAULT):
                    b = m.concept_id_of(_value(q.object))
                    if b not in seen:  # cuts cycles
                        seen.add(b)
                        order.append(b)
                        nxt.append(b)
            frontier = nxt
        result = tuple(order)
        with self._lock:
            if generation == self._generation:
                self._closures.put(concept_id, result)
        return list(result)

    def norm_counts_by_setting(self) -> dict[str, int]:
        with self._lock:
            if self._setting_counts is not None:
                return dict(self._setting_counts)
            generation = self._generation
        # Only statements have ng:setting; grouping by the IRI first and looking labels up afterwards is ~20x
        # faster than joining the label in the query.
        counts: dict[str, int] = {}
        for row in self._select("SELECT ?set (COUNT(?s) AS ?n) WHERE { ?s ng:setting ?set } GROUP BY ?set"):
            label = self._pref_label(row[0].value) or m.concept_id_of(row[0].value)
            counts[label] = counts.get(label, 0) + int(row[1].value)
        counts = dict(sorted(counts.items()))
        with self._lock:
            if generation == self._generation:
                self._setting_counts = counts
        return dict(counts)

    def stats(self) -> StoreStats:
        with self._lock:
            if self._stats is not None:
                return self._stats.model_copy(deep=True)
            generation = self._generation
        by_kind = {
            m.KIND_OF_CLASS[row[0].value].value: int(row[1].value)
            for row in self._select(
                "SELECT ?cls (COUNT(?s) AS ?n) WHERE { VALUES ?cls { " + _KIND_VALUES + " } ?s a ?cls } GROUP BY ?cls"
            )
        }
        # Statements and concepts both point at their source; counting all and taking the (few) concepts off is
        # much faster than joining every subject with its class.
        source_names = {
            row[0].value: row[1].value
            for row in self._select("SELECT ?src ?name WHERE { ?src a ng:SourceDataset ; ng:sourceDataset ?name }")
        }
        by_source: dict[str, int] = {}
        for row in self._select(
            "SELECT ?src (COUNT(?s) AS ?n) WHERE { ?s prov:wasDerivedFrom ?src } GROUP BY ?src"
        ):
            name = source_names.get(row[0].value, row[0].value)
            by_source[name] = by_source.get(name, 0) + int(row[1].value)
        for row in self._select(
            "SELECT ?src (COUNT(?c) AS ?n) WHERE { ?c a skos:Concept ; prov:wasDerivedFrom ?src } GROUP BY ?src"
        ):
            name = source_names.get(row[0].value, row[0].value)
            by_source[name] -= int(row[1].value)
        by_label = {
            m.LABEL_OF_IRI[row[0].value].value: int(row[1].value)
            for row in self._select("SELECT ?l (COUNT(?s) AS ?n) WHERE { ?s ng:label ?l } GROUP BY ?l")
            if row[0].value in m.LABEL_OF_IRI
        }
        concepts = {
            SCHEME_OF_IRI[row[0].value].value: int(row[1].value)
            for row in self._select(
                "SELECT ?scheme (COUNT(?c) AS ?n) WHERE { ?c a skos:Concept ; skos:inScheme ?scheme } GROUP BY ?scheme"
            )
            if row[0].value in SCHEME_OF_IRI
        }
        stats = StoreStats(
            statements=sum(by_kind.values()),
            by_kind=dict(sorted(by_kind.items())),
            by_source={k: v for k, v in sorted(by_source.items()) if v > 0},
            by_setting=self.norm_counts_by_setting(),
            by_label={k: by_label[k] for k in (x.value for x in Label) if k in by_label},
            concepts=dict(sorted(concepts.items())),
        )
        with self._lock:
            if generation == self._generation:
                self._stats = stats
        return stats.model_copy(deep=True)

    def export(self, fmt: ExportFormat, out: BinaryIO) -> None:
        try:
            rdf_format = _FORMATS[fmt]
        except KeyError:
            raise InvalidInput(
                f"unknown export format {fmt!r}; use one of: {', '.join(_FORMATS)}", {"format": fmt}
            ) from None
        if fmt != "jsonld":
            # Text formats open with the attribution the sources' licences ask for; every format also carries it
            # on the source nodes (dct:rights), and JSON-LD only there.
            header = "".join(f"# {line}\n" for line in self._attribution())
            out.write(header.encode("utf-8"))
        # Everything except the payload literals, which are this store's read cache, not data.
        triples = self.db.query(
            "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER(?p != ng:payload && ?p != ng:context) }", prefixes=PREFIXES
        )
        assert isinstance(triples, QueryTriples)  # a CONSTRUCT answers triples
        try:
            if fmt == "jsonld":
                # pyoxigraph writes expanded JSON-LD and ignores prefixes; wrapping the node list in a document
                # with an @context carries them (the full IRIs it writes are unaffected by the context).
                out.write(b'{"@context": ' + orjson.dumps(PREFIXES) + b',\n"@graph": ')
                serialize(triples, out, rdf_format)
                out.write(b"}\n")
            else:
                serialize(triples, out, rdf_format, prefixes=PREFIXES)
        except OSError as e:
            raise StoreError(f"export failed while writing: {e}") from None

    def _attribution(self) -> list[str]:
        licences: dict[str, set[str]] = {}
        for row in self._select(
            "SELECT ?name ?lic WHERE { ?src a ng:SourceDataset ; ng:sourceDataset ?name . "
            "OPTIONAL { ?src dct:license ?lic } }"
        ):
            entry = licences.setdefault(row[0].value, set())
            if row[1] is not None:
                entry.add(row[1].value)
        if not licences:
            return []
        notices = attribution_notices(licences, licences)
        return ["normgraph export. Sources and the attribution their licences require:", *notices]

    # --- internals --------------------------------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(
                f"the store at {self.path} is open read-only; stop the server and open it for writing to change it",
                {"path": str(self.path)},
            )
        self.db  # noqa: B018 - raises when closed

    def _invalidate(self) -> None:
        with self._lock:
            self._generation += 1
            self._candidates.clear()
            self._behaviors.clear()
            self._closures.clear()
            self._concepts.clear()
            self._statements.clear()
            self._label_index = {}
            self._stats = None
            self._setting_counts = None

    def _select(self, query: str) -> list[Any]:
        try:
            solutions = self.db.query(query, prefixes=PREFIXES)
            assert isinstance(solutions, QuerySolutions)  # only SELECT queries come here
            return list(solutions)
        except OSError as e:
            raise StoreError(f"reading the store at {self.path} failed: {e}", {"path": str(self.path)}) from None

    def _pref_label(self, concept_iri: str) -> str | None:
        for q in self.db.quads_for_pattern(NamedNode(concept_iri), _P_PREF_LABEL, None, _DEFAULT):
            return _value(q.object)
        return None

    def _read_cached(self, cache: _Lru, key: str, to_iri: Callable[[str], str], decode: Callable[[str], Any]) -> Any:
        """The decoded payload of ``to_iri(key)`` through ``cache``; a result read while a write happened is
        returned but not kept."""
        with self._lock:
            hit = cache.get(key)
            generation = self._generation
        if hit is None:
            payload = self._payload(to_iri(key))
            if payload is None:
                return None
            hit = decode(payload)
            with self._lock:
                if generation == self._generation:
                    cache.put(key, hit)
        return hit

    def _payload(self, subject_iri: str) -> str | None:
        for q in self.db.quads_for_pattern(NamedNode(subject_iri), _P_PAYLOAD, None, _DEFAULT):
            return _value(q.object)
        return None

    def _stored_payloads(self, to_iri: Callable[[str], str], ids: Iterable[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for i in dict.fromkeys(ids):
            payload = self._payload(to_iri(i))
            if payload is not None:
                out[i] = payload
        return out

    def _known_statements(self, batch_size: int) -> set[str] | None:
        """The IRIs of every stored statement, loaded once a large batch asks (and kept up to date by the
        writers); ``None`` while small batches are cheaper to check one lookup at a time."""
        if self._statement_iris is None and batch_size >= _ID_SET_MIN_BATCH:
            query = "SELECT ?s WHERE { VALUES ?cls { " + _KIND_VALUES + " } ?s a ?cls }"
            self._statement_iris = {row[0].value for row in self._select(query)}
        return self._statement_iris

    def _exists(self, node_iri: str, known: set[str], cls: NamedNode) -> bool:
        if node_iri in known:
            return True
        for _ in self.db.quads_for_pattern(NamedNode(node_iri), _P_TYPE, cls, _DEFAULT):
            known.add(node_iri)
            return True
        return False

    def _write(self, lines: list[str], replace: list[str], orphans: list[str]) -> None:
        """One atomic write: drop the triples of the ``replace`` subjects, add ``lines``, then drop constraint
        nodes in ``orphans`` that no statement links any more."""
        db = self.db
        try:
            if not replace:
                data = "\n".join(lines)
                if _BULK_MIN_TRIPLES <= len(lines) <= _BULK_MAX_TRIPLES:
                    # Oxigraph's bulk path sorts the batch into one SST file per index and ingests them all in a
                    # single RocksDB IngestExternalFiles call, which is atomic across column families as long as
                    # the batch fits in one loader chunk (1,000,000 quads); it is ~2-3x faster than a
                    # transaction, which checks and locks every key (docs/decisions/0001).
                    db.bulk_load(data, format=RdfFormat.N_TRIPLES)
                else:
                    db.load(data, format=RdfFormat.N_TRIPLES)
                return
            ops = [
                "DELETE { ?s ?p ?o } WHERE { VALUES ?s { " + " ".join(map(m.iri, replace)) + " } ?s ?p ?o }",
                "INSERT DATA {\n" + "\n".join(lines) + "\n}",
            ]
            if orphans:
                ops.append(
                    "DELETE { ?c ?p ?o } WHERE { VALUES ?c { " + " ".join(map(m.iri, orphans)) + " } ?c ?p ?o "
                    "FILTER NOT EXISTS { ?x ng:constraint ?c } }"
                )
            db.update(" ;\n".join(ops), prefixes=PREFIXES)
        except OSError as e:
            raise StoreError(f"writing to the store at {self.path} failed: {e}", {"path": str(self.path)}) from None

    def _ensure_schemes(self) -> None:
        """Write the concept scheme declarations of the ontology into a new store, so exports describe them."""
        first = NamedNode(next(iter(SCHEME_IRI.values())))
        if next(iter(self.db.quads_for_pattern(first, _P_TYPE, _C_SCHEME, _DEFAULT)), None) is not None:
            return
        schemes = set(SCHEME_IRI.values())
        lines = [
            f"{t.subject} {t.predicate} {t.object} ."
            for t in parse(ontology_text(), format=RdfFormat.TURTLE)
            if isinstance(t.subject, NamedNode) and t.subject.value in schemes
        ]
        self._write(lines, [], [])

    def _labels(self, scheme: ConceptScheme) -> dict[str, tuple[str, ...]]:
        """Normalised preferred/alternative label -> ids of the concepts it names in one scheme: the concept
        whose preferred label it is first, then those that have it as an alias, each group by id."""
        with self._lock:
            index = self._label_index.get(scheme)
            generation = self._generation
        if index is not None:
            return index
        query = (
            f"SELECT ?c ?l ?alt WHERE {{ ?c skos:inScheme {m.iri(SCHEME_IRI[scheme])} ; a skos:Concept . "
            "{ ?c skos:prefLabel ?l BIND(0 AS ?alt) } UNION { ?c skos:altLabel ?l BIND(1 AS ?alt) } }"
        )
        ranked = sorted(
            (int(row[2].value), m.concept_id_of(row[0].value), normalise_text(row[1].value))
            for row in self._select(query)
        )
        grouped: dict[str, dict[str, None]] = {}
        for _, cid, label in ranked:
            grouped.setdefault(label, {})[cid] = None
        index = {label: tuple(ids) for label, ids in grouped.items()}
        with self._lock:
            if generation == self._generation:
                self._label_index[scheme] = index
        return index


_LINKS = ("ng:setting", "ng:behavior", "ng:inSituation", "ng:moralFoundation")


def _linked_query(concept_id: str, select: str) -> str:
    # One block per link, each starting from the constant node (see _candidates_query on Oxigraph's planner).
    node = m.iri(m.concept_iri(concept_id))
    blocks = " UNION ".join(f"{{ ?s {link} {node} }}" for link in _LINKS)
    return f"SELECT {select} WHERE {{ {blocks} }}"


def _candidates_query(keys: Sequence[str], by_context: bool) -> str:
    """(key, payload) of the statements of each (setting, behaviour) context node (``rdf_mapping.context_iri``)
    or, with ``by_context`` false, of each setting: one UNION block per key, so each block is one index range
    holding exactly its statements. Oxigraph's planner neither starts a join from a VALUES list nor picks the
    more selective of two bound patterns, hence constants in UNION blocks. Kind and review state are checked on
    the decoded payload, which saves two index lookups per candidate."""
    link = "ng:context" if by_context else "ng:setting"
    blocks = [f"{{ ?s {link} {m.iri(k)} ; ng:payload ?p BIND({m.iri(k)} AS ?k) }}" for k in keys]
    return "SELECT ?k ?p WHERE { " + " UNION ".join(blocks) + " }"


def _sequential(
    result: UpsertResult, batch: list[tuple[AnyStatement, str]], stored: dict[str, str]
) -> dict[str, tuple[AnyStatement, str]]:
    """Count a batch as if its items were upserted one after another (an id may repeat within a batch) and
    return id -> the last version of each item that differs from what is stored."""
    current: dict[str, str] = dict(stored)
    final: dict[str, tuple[AnyStatement, str]] = {}
    for st, payload in batch:
        cur = current.get(st.id)
        if cur is None:
            result.inserted += 1
        elif cur == payload or m.same_content(orjson.loads(cur), orjson.loads(payload)):
            result.unchanged += 1
            continue
        else:
            result.updated += 1
        current[st.id] = payload
        final[st.id] = (st, payload)
    return {
        i: v
        for i, v in final.items()
        if i not in stored or not m.same_content(orjson.loads(stored[i]), orjson.loads(v[1]))
    }


def _open(path: Path, read_only: bool) -> Store:
    try:
        if read_only:
            if not (path / "CURRENT").is_file():
                raise StoreError(
                    f"no store at {path}: ingest into it first (it is created on the first write), "
                    "then open it read-only",
                    {"path": str(path)},
                )
            return Store.read_only(str(path))
        path.mkdir(parents=True, exist_ok=True)
        return Store(str(path))
    except OSError as e:
        if "lock" in str(e).lower():
            raise StoreLocked(
                f"the store at {path} is in use by another process (RocksDB lock held): stop the server or the "
                "other normgraph command writing to it, or open the store read-only "
                "(NORMGRAPH_READ_ONLY=1, e.g. for several server workers)",
                {"path": str(path), "cause": str(e)},
            ) from None
        raise StoreError(f"cannot open the store at {path}: {e}", {"path": str(path)}) from None
