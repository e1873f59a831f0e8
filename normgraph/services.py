"""The composition root: one ``NormBankService`` per process wires settings, the store, ingest sources and
frame resolution together. The CLI and the HTTP API are thin shells over it; nothing below it knows about
either.

Read models of the catalogue (settings with their counts) live here because they are what this service
answers, not something stored.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Iterable, Sequence, get_args

from pydantic import BaseModel, Field

from normgraph.answer_cache import AnswerCache
from normgraph.errors import IngestError, InvalidInput, NotFound, StoreError
from normgraph.frames.grammar import coerce_constraints
from normgraph.frames.resolve import answer_query, decode_cursor, encode_cursor
from normgraph.frames.results import QueryResult
from normgraph.ids import concept_id, normalise_text
from normgraph.models import AnyStatement, Concept, ConceptScheme, Constraint, ReviewState, StoreStats
from normgraph.retrieval_service import RetrievalService, require_installed
from normgraph.settings import Settings
from normgraph.situations import SituationView, situation_view
from normgraph.sources import IngestSummary, available_sources
from normgraph.store import open_store
from normgraph.store.base import ANSWERING_STATES, ExportFormat, GraphStore

if TYPE_CHECKING:  # numpy, faiss and torch load only when retrieval is used
    from normgraph.generate.answer import AnswerResult
    from normgraph.generate.generate import GenerateResult
    from normgraph.generate.service import GeneratorService
    from normgraph.index.maintenance import BuildReport, IndexStatus, VerifyReport
    from normgraph.judge.service import JudgeService
    from normgraph.prompting import PromptResult
    from normgraph.retrieval import RetrievalResult

DEMO_DIR = Path(__file__).resolve().parent / "demo"
DEMO_TAXONOMY = DEMO_DIR / "taxonomy.json"
DEMO_BANK = DEMO_DIR / "bank.jsonl"
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)

# Statement ids are content-derived (``n-3f2a…``); anything outside this alphabet cannot be one, and is
# answered "not found" before it reaches a query string.
_STATEMENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$")


class SettingSummary(BaseModel):
    name: str = Field(description="the setting's preferred label")
    id: str = Field(description="concept id, e.g. setting/restaurant")
    norm_count: int = Field(description="statements stored in this setting (under its name or an alias)")
    broader: list[str] = Field(description="names of the directly broader settings")
    alt_labels: list[str] = Field(description="aliases that resolve to this setting")


class SettingsPage(BaseModel):
    items: list[SettingSummary]
    next_cursor: str | None = Field(None, description="pass back as `cursor` for the next page; null on the last")


class SettingDetail(BaseModel):
    name: str
    id: str
    alt_labels: list[str]
    broader: list[str] = Field(description="the broader settings, nearest first (the whole chain)")
    narrower: list[str] = Field(description="settings directly narrower than this one")
    roles: list[str]
    behaviors: list[str] = Field(description="behaviours of the taxonomy and of the norms in this setting")
    items: list[str]
    attributes: dict[str, list[str]] = Field(description="constraint vocabulary: attribute -> its values")
    norm_count: int = Field(description="statements in this setting itself")
    inherited_norm_count: int = Field(description="statements of the broader settings, which apply here too")


class NormBankService:
    """Everything a caller can do with a bank. Use as a context manager, or call ``close()``.

    Caches (the settings catalogue, serialised query answers) are dropped whenever this service writes; a read-only
    service sees the store as it was when opened (RocksDB read-only semantics), so its caches never go stale
    with respect to what it could read.
    """

    def __init__(self, settings: Settings | None = None, *, store: GraphStore | None = None) -> None:
        self.settings = settings or Settings.from_env()
        if store is None:
            if not self.settings.read_only:
                self.settings.home.mkdir(parents=True, exist_ok=True)
            store = open_store(self.settings.store, self.settings.store_path, read_only=self.settings.read_only)
        self.store: GraphStore = store
        self._lock = threading.Lock()
        self._catalogue: list[SettingSummary] | None = None
        self._vocabulary: dict[str, list[str]] | None = None
        self._answers = AnswerCache(self.settings.answer_cache_mb * 1024 * 1024)
        self._retrieval: RetrievalService | None = None
        self._judge: JudgeService | None = None
        self._generator: GeneratorService | None = None

    # --- lifecycle --------------------------------------------------------------------------------------
    def close(self) -> None:
        if self._retrieval is not None:
            self._retrieval.close()
        self.store.close()

    def __enter__(self) -> "NormBankService":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def refresh(self) -> None:
        """Drop cached reads; call after writing to ``self.store`` directly."""
        with self._lock:
            self._catalogue = None
            self._vocabulary = None
            self._answers.clear()
        if self._retrieval is not None:
            self._retrieval.invalidate()

    # --- queries ----------------------------------------------------------------------------------------
    def page_limit(self, limit: int | None) -> int:
        """The page size to use: the default when not given; a bad one is the caller's error, not clamped."""
        if limit is None:
            return self.settings.page_limit
        if not 1 <= limit <= self.settings.max_page_limit:
            raise InvalidInput(
                f"limit must be between 1 and {self.settings.max_page_limit}, not {limit}",
                {"limit": limit, "min": 1, "max": self.settings.max_page_limit},
            )
        return limit

    def query(
        self,
        setting: str,
        behavior: str | None = None,
        facts: Sequence[str | dict[str, Any] | Constraint] | str | None = (),
        *,
        limit: int | None = None,
        cursor: str | None = None,
        include_defeated: bool = True,
        review_states: frozenset[ReviewState] = ANSWERING_STATES,
    ) -> QueryResult:
        """What holds in ``setting`` (for ``behavior``, or every behaviour, a page at a time) given ``facts``
        (NormBank constraint strings and/or structured constraints)."""
        return answer_query(
            self.store,
            setting,
            behavior,
            coerce_constraints(facts),
            limit=self.page_limit(limit),
            cursor=cursor,
            include_defeated=include_defeated,
            review_states=review_states,
        )

    def query_json(
        self,
        setting: str,
        behavior: str | None = None,
        facts: Sequence[str | dict[str, Any] | Constraint] | str | None = (),
        *,
        limit: int | None = None,
        cursor: str | None = None,
        include_defeated: bool = True,
        review_states: frozenset[ReviewState] = ANSWERING_STATES,
        cached_only: bool = False,
    ) -> bytes | None:
        """``query(...)`` as JSON bytes, for servers: a repeated question is a dict lookup. The cache is keyed
        by the question as asked (before the facts are parsed) and bounded by the bytes it holds. With
        ``cached_only`` a miss is ``None`` instead of a store read, so an event loop can answer hits itself and
        hand misses to a thread."""
        try:
            key: tuple | None = (setting, behavior, _fact_key(facts), limit, cursor, include_defeated, review_states)
            hash(key)
        except TypeError:  # an unhashable fact (a dict): answer without the cache
            key = None
        if key is not None and self._answers.budget > 0:
            hit = self._answers.get(key)
            if hit is not None:
                return hit
        if cached_only:
            return None
        result = self.query(
            setting,
            behavior,
            facts,
            limit=limit,
            cursor=cursor,
            include_defeated=include_defeated,
            review_states=review_states,
        )
        answer = result.__pydantic_serializer__.to_json(result)
        if key is not None:
            self._answers.put(key, answer)
        return answer

    def get_statement(self, statement_id: str) -> AnyStatement:
        found = self.store.get_statement(statement_id) if _STATEMENT_ID.match(statement_id) else None
        if found is None:
            raise NotFound(f"no statement with id {statement_id!r}", {"id": statement_id})
        return found

    def situation(self, key: str, *, limit: int | None = None) -> SituationView:
        """A situation (by id, with or without ``situation/``, or by its text) with the rules of thumb, values,
        rights, duties and norms the graph links to it. Raises ``NotFound``."""
        if not isinstance(key, str) or not key.strip() or len(key) > 20000:
            raise NotFound("no situation given", {"situation": key})
        return situation_view(self.store, key, limit=self.page_limit(limit) if limit else 500)

    def list_settings(self, limit: int | None = None, cursor: str | None = None) -> SettingsPage:
        """Settings in name order, with their norm counts, a page at a time."""
        limit = self.page_limit(limit)
        items = self._settings_catalogue()
        if cursor is not None:
            after = decode_cursor(cursor)
            items = [s for s in items if s.name > after]
        page = items[:limit]
        more = len(items) > limit
        return SettingsPage(items=page, next_cursor=encode_cursor(page[-1].name) if more else None)

    def get_setting(self, name: str) -> SettingDetail:
        """A setting by name or alias, with its neighbourhood in the taxonomy and its vocabulary."""
        concept = self.store.find_concept(ConceptScheme.setting, name) if name.strip() else None
        catalogue = {s.id: s for s in self._settings_catalogue()}
        if concept is None:
            # A setting named only by statements (no taxonomy loaded for it) is still a setting of the bank.
            wanted = normalise_text(name)
            summary = next((s for s in catalogue.values() if s.name == wanted), None)
            if summary is None:
                raise NotFound(
                    f"unknown setting {name!r}: see GET /v1/settings for the settings in this bank", {"setting": name}
                )
            return SettingDetail(
                name=summary.name,
                id=summary.id,
                alt_labels=[],
                broader=[],
                narrower=[],
                roles=[],
                behaviors=self._norm_behaviors([summary.name]),
                items=[],
                attributes=self._attribute_vocabulary(),
                norm_count=summary.norm_count,
                inherited_norm_count=0,
            )

        chain = [c for c in (self.store.get_concept(cid) for cid in self.store.broader_closure(concept.id)[1:]) if c]
        own = catalogue.get(concept.id)
        inherited = sum(catalogue[c.id].norm_count for c in chain if c.id in catalogue)
        labels = [concept.label, *concept.alt_labels]
        behaviors = {c.label for c in self.store.concepts(ConceptScheme.behavior, related_setting=concept.id)}
        behaviors.update(self._norm_behaviors(labels))
        return SettingDetail(
            name=concept.label,
            id=concept.id,
            alt_labels=sorted(concept.alt_labels),
            broader=[c.label for c in chain],
            narrower=sorted(s.name for s in catalogue.values() if concept.label in s.broader),
            roles=_labels(self.store.concepts(ConceptScheme.role, related_setting=concept.id)),
            behaviors=sorted(behaviors, key=_name_order),
            items=_labels(self.store.concepts(ConceptScheme.item, related_setting=concept.id)),
            attributes=self._attribute_vocabulary(),
            norm_count=own.norm_count if own else 0,
            inherited_norm_count=inherited,
        )

    def stats(self) -> StoreStats:
        return self.store.stats()

    def statement_count(self) -> int:
        return self.store.stats().statements

    def export(self, fmt: str, out: BinaryIO) -> None:
        if fmt not in EXPORT_FORMATS:
            raise InvalidInput(
                f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}", {"format": fmt}
            )
        self.store.export(fmt, out)  # type: ignore[arg-type]

    # --- writes -----------------------------------------------------------------------------------------
    def ingest(
        self,
        source_name: str,
        path: str | Path,
        rejects_path: str | Path | None = None,
        progress: bool = False,
        embed: bool | None = None,
    ) -> IngestSummary:
        """Stream one input through a registered source reader into the store. Bad rows are rejects (written
        to ``rejects_path``, default ``<home>/rejects/<source>-<file>.jsonl``); an unreadable input raises.

        Then, with ``embed`` (default: the ``embed_on_ingest`` setting), bring the retrieval index up to date
        (``last_index_build`` holds its report)."""
        embed = self.settings.embed_on_ingest if embed is None else embed
        if embed:
            require_installed()  # before anything is written
        sources = available_sources()
        reader = sources.get(source_name)
        if reader is None:
            known = sorted(sources)
            raise InvalidInput(
                f"unknown source {source_name!r}; known sources: {', '.join(known) or '(none installed)'}",
                {"source": source_name, "known": known},
            )
        self._writable()
        path = Path(path)
        if not path.exists():
            raise IngestError(f"{path}: no such file or directory", {"path": str(path)})
        if rejects_path is None:
            rejects_path = self.settings.home / "rejects" / f"{source_name}-{path.stem}.jsonl"
        rejects_path = Path(rejects_path)
        rejects_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            summary = reader.load(path, self.store, rejects_path=rejects_path, progress=progress)
        finally:
            self.refresh()
        if embed:
            self.retrieval.build_if_needed(bool(summary.loaded or summary.updated), progress=progress)
        return summary

    def load_demo(
        self,
        taxonomy_dir: str | Path | None = None,
        *,
        if_empty: bool = False,
        with_taxonomy: bool = True,
        progress: bool = False,
        embed: bool | None = None,
    ) -> list[IngestSummary]:
        """Load the NormBank taxonomy (if given or configured), then the demo taxonomy
        and the demo bank. With ``if_empty``, load nothing when the store already holds statements. Then, with
        ``embed`` (default: the ``embed_on_ingest`` setting), build the retrieval index once, at the end, if it
        is missing or out of date."""
        self._writable()
        embed = self.settings.embed_on_ingest if embed is None else embed
        if embed:
            require_installed()
        if if_empty and self.statement_count() > 0:
            if embed:
                self.retrieval.build_if_needed(False, progress=progress)
            return []
        summaries: list[IngestSummary] = []
        if with_taxonomy:
            explicit = taxonomy_dir if taxonomy_dir is not None else self.settings.taxonomy_dir
            tax = Path(explicit) if explicit is not None else None
            if tax is not None:
                if not tax.is_dir():
                    raise IngestError(f"{tax}: not a NormBank taxonomy directory", {"path": str(tax)})
                summaries.append(self.ingest("normbank-taxonomy", tax, progress=progress, embed=False))
        summaries.append(self.ingest("concepts", DEMO_TAXONOMY, progress=progress, embed=False))
        summaries.append(self.ingest("jsonl", DEMO_BANK, progress=progress, embed=False))
        if embed:
            self.retrieval.build_if_needed(any(s.loaded or s.updated for s in summaries), progress=progress)
        return summaries

    # --- retrieval (normgraph.retrieval_service) ----------------------------------------------------------
    @property
    def retrieval(self) -> RetrievalService:
        """The process's retrieval over this bank; the model and the index open on first use."""
        with self._lock:
            if self._retrieval is None:
                self._retrieval = RetrievalService(self.settings, self.store)
            return self._retrieval

    @property
    def judge(self) -> JudgeService:
        """The process's judge over this bank (DESIGN §5), on retrieval's encoder; its heads load on first use."""
        with self._lock:
            if self._judge is None:
                from normgraph.judge.service import JudgeService

                self._judge = JudgeService(self)
            return self._judge

    @property
    def last_index_build(self) -> BuildReport | None:
        """The report of the last index build this service ran, or None."""
        return self._retrieval.last_build if self._retrieval is not None else None

    def retrieve(
        self, query: str, k: int = 10, filters: Any = None, mode: str = "hybrid", facts: Any = None
    ) -> RetrievalResult:
        """The statements most relevant to free text: hybrid dense + BM25 by default,
        with graph filters (setting and its broader settings, kinds, sources, labels, country), re-ranked by
        frame resolution when a setting filter and facts are given."""
        return self.retrieval.retrieve(query, k, filters, mode, facts)

    def prompt(
        self,
        situation: str,
        k: int = 8,
        format: str = "markdown",
        max_tokens: int | None = None,
        filters: Any = None,
        facts: Any = None,
    ) -> PromptResult:
        """A context block for an agent's prompt with citation ids, within a token budget."""
        return self.retrieval.prompt(situation, k, format, max_tokens, filters, facts)

    def index_build(self, kind: str = "auto", rebuild: bool = False, progress: bool = False) -> BuildReport:
        """Create or update the retrieval index; incremental unless ``rebuild``."""
        return self.retrieval.build(kind, rebuild, progress)

    def index_status(self) -> IndexStatus:
        """What index is there, without reading the store."""
        return self.retrieval.status()

    def index_verify(self) -> VerifyReport:
        """Drift between the store and the index (and an index built with another model)."""
        return self.retrieval.verify()

    # --- the generator (normgraph.generate) ---------------------------------------------------------------
    @property
    def generator(self) -> GeneratorService:
        """The process's generator over this bank; its backend opens on first use."""
        with self._lock:
            if self._generator is None:
                from normgraph.generate.service import GeneratorService

                self._generator = GeneratorService(self)
            return self._generator

    def generate(self, setting: str, behavior: str | None = None, facts: Any = (), n: int = 3, **options: Any) -> GenerateResult:
        """Proposed norms for a frame, stored as ``proposed`` (never answering a query until approved); see
        ``normgraph.generate.service.GeneratorService.generate``."""
        return self.generator.generate(setting, behavior, facts, n, **options)

    def answer(self, question: str, setting: str | None = None, facts: Any = None, **options: Any) -> AnswerResult:
        """A free-text answer from the bank's retrieved context, its citations checked against that context."""
        return self.generator.answer(question, setting, facts, **options)

    # --- internals --------------------------------------------------------------------------------------
    def _writable(self) -> None:
        if self.store.read_only:
            raise StoreError("the store is open read-only (multi-worker serving); stop the server to write to it")

    def _settings_catalogue(self) -> list[SettingSummary]:
        with self._lock:
            if self._catalogue is not None:
                return self._catalogue
        concepts = self.store.concepts(ConceptScheme.setting)
        by_id = {c.id: c for c in concepts}
        owner: dict[str, str] = {}
        for c in concepts:
            for label in (*c.alt_labels, c.label):  # the preferred label wins a clash with another's alias
                owner[normalise_text(label)] = c.id
        counts: dict[str, int] = {c.id: 0 for c in concepts}
        orphans: dict[str, int] = {}
        for label, n in self.store.norm_counts_by_setting().items():
            cid = owner.get(normalise_text(label))
            if cid is not None:
                counts[cid] += n
            else:
                orphans[normalise_text(label)] = orphans.get(normalise_text(label), 0) + n
        items = [
            SettingSummary(
                name=c.label,
                id=c.id,
                norm_count=counts[c.id],
                broader=sorted(by_id[b].label if b in by_id else b for b in c.broader),
                alt_labels=sorted(c.alt_labels),
            )
            for c in concepts
        ]
        items += [
            SettingSummary(name=label, id=concept_id("setting", label), norm_count=n, broader=[], alt_labels=[])
            for label, n in orphans.items()
        ]
        items.sort(key=lambda s: s.name)
        with self._lock:
            self._catalogue = items
        return items

    def _attribute_vocabulary(self) -> dict[str, list[str]]:
        with self._lock:
            if self._vocabulary is not None:
                return self._vocabulary
        vocab: dict[str, set[str]] = {c.label: set() for c in self.store.concepts(ConceptScheme.attribute)}
        for v in self.store.concepts(ConceptScheme.attribute_value):
            vocab.setdefault(v.attribute or "", set()).add(v.label)
        result = {a: sorted(vs, key=_name_order) for a, vs in sorted(vocab.items()) if a}
        with self._lock:
            self._vocabulary = result
        return result

    def _norm_behaviors(self, setting_labels: Iterable[str]) -> list[str]:
        labels = sorted({normalise_text(x) for x in setting_labels})
        every_state = frozenset(ReviewState)
        return sorted({n.behavior for n in self.store.candidates(labels, None, every_state) if n.behavior})


def _fact_key(facts: Sequence[str | dict[str, Any] | Constraint] | str | None) -> tuple | str | None:
    return facts if facts is None or isinstance(facts, str) else tuple(facts)


def _name_order(label: str) -> tuple[str, str]:
    return (normalise_text(label), label)


def _labels(concepts: Iterable[Concept]) -> list[str]:
    return sorted({c.label for c in concepts}, key=_name_order)
