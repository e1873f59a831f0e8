"""The one canonical constructor: every reader builds its statements and concepts through these functions.

Identity (DESIGN §1: re-ingesting the same input is a no-op):

- a source's own row identifier (``source_id``: NormBank's line number, a JSONL ``id``) gives
  ``statement_id(<kind prefix>, <source>, <source_id>)``; an id already in normgraph's own form for that kind
  (``n-<16 hex>``, e.g. from an export) is kept as it is, so exports re-import onto themselves;
- without one, the id is the hash of the normalised content: kind, setting, behaviour, sorted constraints,
  label, text and source.

Settings and behaviours are stored as normalised labels (``normalise_text``: NFKC, lower case, single
spaces); ``country`` likewise, taken from an environment ``country is …`` constraint when not given.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterable, Sequence

from normgraph.errors import InvalidInput
from normgraph.frames.grammar import coerce_constraints, format_constraint
from normgraph.frames.logic import check_compatible
from normgraph.ids import KIND_PREFIX, concept_id, normalise_text, statement_id
from normgraph.situations import situation_id
from normgraph.models import (
    MAX_LABEL_CHARS,
    AnyStatement,
    Concept,
    ConceptScheme,
    Constraint,
    Kind,
    Label,
    Norm,
    Provenance,
    Relation,
    ReviewState,
    RuleOfThumb,
    Subject,
    Valence,
    ValueRightDuty,
)
from normgraph.verbalise import verbalise_norm

_OWN_ID = re.compile(r"^(?P<prefix>[a-z]+)-[0-9a-f]{16}$")

# NormBank's words for the labels, accepted wherever a label is read.
LABEL_WORDS: dict[str, Label] = {
    "expected": Label.expected,
    "okay": Label.okay,
    "ok": Label.okay,
    "normal": Label.okay,
    "unexpected": Label.unexpected,
    "taboo": Label.unexpected,
}


def parse_label(value: object) -> Label:
    if isinstance(value, Label):
        return value
    if isinstance(value, str):
        found = LABEL_WORDS.get(value.strip().lower())
        if found is not None:
            return found
    raise InvalidInput(
        f"unknown label {value!r}: use expected, okay or unexpected (NormBank's normal/taboo also work)",
        {"label": value},
    )


def _clean_label(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a string, not {type(value).__name__}", {what: value})
    label = _normalised(value) or None
    if label is not None:
        # A name the API cannot be asked for would be stored for nobody: refuse it here, with the reason.
        if len(label) > MAX_LABEL_CHARS:
            raise InvalidInput(f"{what} of {len(label):,} characters is over the limit of {MAX_LABEL_CHARS}", {what: label[:80]})
        bad = _CONTROL.search(label)
        if bad is not None:
            raise InvalidInput(f"{what} contains the control character U+{ord(bad.group()):04X}", {what: label[:80]})
    return label


# C0/C1 controls, and unpaired surrogates (valid in a Python str, never in UTF-8 output).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


# Settings and behaviours repeat across many rows.
_normalised = lru_cache(maxsize=65536)(normalise_text)


def country_of(constraints: Iterable[Constraint]) -> str | None:
    """The country a norm holds in: its environment ``country is …`` constraint (a person's country is their
    nationality, not where the norm holds)."""
    for c in constraints:
        if c.subject is Subject.environment and c.attribute == "country" and c.relation is Relation.is_:
            return normalise_text(c.value)
    return None


def _statement_id(kind: Kind, source: str, source_id: str | None, content: Sequence[str]) -> str:
    prefix = KIND_PREFIX[kind.value]
    if source_id is not None:
        source_id = str(source_id).strip()
        m = _OWN_ID.match(source_id)
        if m and m.group("prefix") == prefix:
            return source_id
        if not source_id:
            raise InvalidInput("empty id", {"id": source_id})
        return statement_id(prefix, source, source_id)
    return statement_id(prefix, "content", kind.value, source, *content)


def _provenance(
    source: str,
    source_row: object,
    source_file: str | None,
    licence: str | None,
    agreement: float | None,
    source_fields: dict[str, Any] | None = None,
) -> Provenance:
    return Provenance(
        source=source,
        source_row=None if source_row is None else str(source_row),
        source_file=source_file,
        licence=licence,
        agreement=agreement,
        source_fields=source_fields or {},
    )


def make_norm(
    *,
    source: str,
    source_row: object,
    setting: str | None,
    behavior: str | None,
    constraints: Sequence[Constraint | str | dict[str, Any]] | str | None,
    label: Label | str,
    text: str | None = None,
    country: str | None = None,
    licence: str | None = None,
    agreement: float | None = None,
    split: str | None = None,
    review_state: ReviewState | str = ReviewState.trusted,
    source_file: str | None = None,
    id: str | None = None,
    situation: str | None = None,
    source_fields: dict[str, Any] | None = None,
) -> Norm:
    """A ``Norm`` from a source row. ``id`` is the source's own identifier of the row, not the stored id;
    ``source_fields`` are the row's columns the schema has no field for (kept verbatim in provenance)."""
    cs = constraints if isinstance(constraints, tuple) and all(isinstance(c, Constraint) for c in constraints) \
        else coerce_constraints(constraints)
    check_compatible(cs, decidable=False)  # a frame no facts can satisfy would never answer a query
    setting_n = _clean_label(setting, "setting")
    behavior_n = _clean_label(behavior, "behavior")
    lab = parse_label(label)
    if text is None or not str(text).strip():
        if behavior_n is None:
            raise InvalidInput("a norm needs a text or a behavior to verbalise", {})
        text = verbalise_norm(setting_n, behavior_n, cs, lab)
    country_n = _clean_label(country, "country") if country is not None else country_of(cs)
    if id is None:
        content: tuple[str, ...] = (
            setting_n or "",
            behavior_n or "",
            *sorted(format_constraint(c) for c in cs),
            "\x1e",
            lab.value,
            normalise_text(text),
        )
    else:
        content = ()
    return Norm(
        id=_statement_id(Kind.norm, source, id, content),
        text=text,
        setting=setting_n,
        behavior=behavior_n,
        situation=situation,
        country=country_n,
        review_state=review_state,
        label=lab,
        constraints=cs,
        split=split,
        provenance=_provenance(source, source_row, source_file, licence, agreement, source_fields),
    )


def make_statement(
    *,
    kind: Kind | str,
    source: str,
    source_row: object,
    text: str,
    setting: str | None = None,
    behavior: str | None = None,
    situation: str | None = None,
    country: str | None = None,
    label: Label | str | None = None,
    valence: Valence | str | None = None,
    explanation: str | None = None,
    action: str | None = None,
    moral_foundations: Sequence[str] = (),
    judgments: dict[str, Any] | None = None,
    licence: str | None = None,
    agreement: float | None = None,
    review_state: ReviewState | str = ReviewState.trusted,
    source_file: str | None = None,
    id: str | None = None,
    source_fields: dict[str, Any] | None = None,
) -> AnyStatement:
    """A rule of thumb, value, right or duty (norms go through ``make_norm``)."""
    kind = Kind(kind)
    if kind is Kind.norm:
        raise InvalidInput("norms are built with make_norm", {"kind": kind.value})
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("text is required and must be a non-empty string", {"text": text})
    setting_n = _clean_label(setting, "setting")
    behavior_n = _clean_label(behavior, "behavior")
    country_n = _clean_label(country, "country")
    lab = parse_label(label) if label is not None else None
    content: tuple[str, ...] = ()
    if id is None:
        content = (
            setting_n or "",
            behavior_n or "",
            "\x1e",
            lab.value if lab else "",
            normalise_text(situation or ""),
            normalise_text(text),
        )
    common: dict[str, Any] = dict(
        id=_statement_id(kind, source, id, content),
        text=text,
        setting=setting_n,
        behavior=behavior_n,
        situation=situation,
        country=country_n,
        review_state=review_state,
        provenance=_provenance(source, source_row, source_file, licence, agreement, source_fields),
    )
    if kind is Kind.rule_of_thumb:
        return RuleOfThumb(
            **common,
            label=lab,
            action=action,
            moral_foundations=tuple(moral_foundations),
            judgments=dict(judgments or {}),
        )
    if lab is not None:
        raise InvalidInput(f"a {kind.value} has a valence, not a label", {"label": label})
    return ValueRightDuty(
        **common,
        kind=kind,
        valence=_valence(valence),
        explanation=explanation,
    )


def make_concept(
    *,
    scheme: ConceptScheme | str,
    label: str,
    source: str,
    source_row: object = None,
    source_file: str | None = None,
    licence: str | None = None,
    alt_labels: Iterable[str] = (),
    broader: Iterable[str] = (),
    related_settings: Iterable[str] = (),
    attribute: str | None = None,
    subject: Subject | str | None = None,
    definition: str | None = None,
) -> Concept:
    """A SKOS concept. ``broader`` names concepts of the same scheme and ``related_settings`` names settings,
    both by label; they become ids here. The preferred label is kept as written (trimmed, single spaces)."""
    scheme = ConceptScheme(scheme)
    if not isinstance(label, str) or not " ".join(label.split()):
        raise InvalidInput("a concept needs a non-empty label", {"label": label})
    pref = " ".join(label.split())
    if scheme is ConceptScheme.attribute_value and not attribute:
        raise InvalidInput(f"attribute value {pref!r} needs its attribute", {"label": pref})
    attr = " ".join(attribute.split()).lower() if attribute else None
    if scheme is ConceptScheme.situation:
        cid = situation_id(pref)
    else:
        cid = concept_id(scheme.value, pref, attr if scheme is ConceptScheme.attribute_value else None)
    # Alt labels are unique under normalisation (as the store compares them) and never repeat the preferred one.
    seen = {normalise_text(pref)}
    alts_list: list[str] = []
    for a in alt_labels:
        a = " ".join(a.split())
        key = normalise_text(a)
        if a and key not in seen:
            seen.add(key)
            alts_list.append(a)
    alts = tuple(alts_list)
    broader_ids = _unique(
        concept_id(scheme.value, b, attr if scheme is ConceptScheme.attribute_value else None) for b in broader
    )
    if cid in broader_ids:
        raise InvalidInput(f"concept {pref!r} cannot be broader than itself", {"label": pref})
    return Concept(
        id=cid,
        scheme=scheme,
        label=pref,
        alt_labels=alts,
        broader=broader_ids,
        related_settings=_unique(concept_id(ConceptScheme.setting.value, s) for s in related_settings),
        attribute=attr,
        subject=subject,
        definition=definition,
        provenance=_provenance(source, source_row, source_file, licence, None),
    )


_CLOSING_PUNCTUATION = re.compile(r"[\s.!?;:,]+$")


def behavior_text(text: str | None) -> str | None:
    """An action or behaviour as its source writes it, without a sentence's closing punctuation: Social-Chem's
    "helping your friends." and NormBank's "helping your friends" are one behaviour."""
    if text is None:
        return None
    out = _CLOSING_PUNCTUATION.sub("", " ".join(text.split()))
    return out or None


def linked_concepts(st: AnyStatement, *, behavior_as_written: str | None = None) -> list[Concept]:
    """The concepts a statement's texts name, under the surface form its source used: its situation and its
    behaviour (the preferred label when new, else an alternative label of the existing node). Statements from
    different sources with the same normalised situation or behaviour meet in one node; each keeps its own
    spelling as an alias.

    The concepts carry the source, file and licence but not the row: one spelling is one concept however many
    rows use it (the pipeline writes it once)."""
    out: list[Concept] = []
    prov = st.provenance
    if st.situation is not None:
        label = " ".join(st.situation.split())
        out.append(_node(ConceptScheme.situation, situation_id(label), label, prov))
    if st.behavior is not None:
        label, cid = _behavior_label(behavior_as_written, st.behavior)
        out.append(_node(ConceptScheme.behavior, cid, label, prov))
    return out


@lru_cache(maxsize=65536)
def _behavior_label(written: str | None, behavior: str) -> tuple[str, str]:
    cid = concept_id(ConceptScheme.behavior.value, behavior)
    label = behavior_text(written)
    if label is None or concept_id(ConceptScheme.behavior.value, label) != cid:
        label = behavior  # not a spelling of this behaviour: name it as the statement does
    return label, cid


def _node(scheme: ConceptScheme, cid: str, label: str, prov: Provenance) -> Concept:
    return _node_of(scheme, cid, label, prov.source, prov.source_file, prov.licence)


@lru_cache(maxsize=65536)  # a situation's rules of thumb come in consecutive rows; actions repeat all over
def _node_of(
    scheme: ConceptScheme, cid: str, label: str, source: str, source_file: str | None, licence: str | None
) -> Concept:
    # Built without validation: every value comes from a statement that was validated a moment ago.
    return Concept.model_construct(
        id=cid, scheme=scheme, label=label, alt_labels=(), broader=(), related_settings=(), attribute=None,
        subject=None, definition=None, provenance=_node_provenance(source, source_file, licence),
    )


@lru_cache(maxsize=1024)
def _node_provenance(source: str, source_file: str | None, licence: str | None) -> Provenance:
    return Provenance(source=source, source_file=source_file, licence=licence)


def with_inferred_foundations(
    st: AnyStatement, foundations: Sequence[str], method: str | None
) -> AnyStatement:
    """``st`` with moral foundations that were inferred, not given by its source: the foundations, and in its
    provenance ``inferred["moral_foundations"]`` = the method (None: no inferred foundations)."""
    inferred = dict(st.provenance.inferred)
    if method:
        inferred["moral_foundations"] = method
    else:
        inferred.pop("moral_foundations", None)
    prov = st.provenance.model_copy(update={"inferred": inferred})
    return st.model_copy(update={"moral_foundations": tuple(foundations) if method else (), "provenance": prov})


def _valence(value: object) -> Valence:
    if value is None:
        return Valence.either
    try:
        return Valence(value.strip().lower() if isinstance(value, str) else value)
    except ValueError:
        raise InvalidInput(
            f"unknown valence {value!r}: use supports, opposes or either", {"valence": value}
        ) from None


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))
