"""The Moral Foundations Dictionary 2.0 (``mfd2.0.dic``, LIWC format) and what the bank does with it: tag the moral
foundations of statements that arrive without them.

The file: a header between ``%`` lines numbering the categories (``1<TAB>care.virtue`` … ``10<TAB>sanctity.vice``),
then one entry per line, ``word<TAB>category`` (a word in two categories has two lines; some entries are
phrases, "do unto others").

``normgraph ingest mfd PATH`` then

1. writes the foundations (care, fairness, loyalty, authority, sanctity — the concepts the ontology declares)
   and their virtue/vice categories (``care.virtue`` ⊑ ``care``) as concepts of the moral-foundation scheme;
2. reads every rule of thumb and norm in the store whose foundations are empty or were themselves inferred
   before, and tags it with each foundation whose words occur in its text or behaviour (words and phrases
   matched whole, case folded) — so behaviours that arrive without foundations (NormBank, Moral Stories'
   actions, ETHICS scenarios, PrivacyLens flows) get them.
   A tagged statement is marked as inferred: ``provenance.inferred["moral_foundations"]`` holds the method and
   the words that matched ("MFD 2.0 lexicon match: care (hurt)"). Foundations a source gave are never touched.

Run it after the sources it should tag; re-running is a no-op (``updated`` counts statements whose tags changed,
``duplicates`` those examined and left as they were). Written as Social-Chem writes foundations (``care-harm``
…), so inferred and given tags read alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, TypedDict

from normgraph.errors import IngestError
from normgraph.models import ConceptScheme, Kind, ValueRightDuty
from normgraph.source_registry import licence_of
from normgraph.store.base import GraphStore

from ingest.canonical import make_concept, with_inferred_foundations
from ingest.pipeline import Item, Record, WholeInputSource, check_file
from ingest.rejects import Reject

SOURCE = "mfd"
LICENCE = licence_of(SOURCE)
METHOD = "MFD 2.0 lexicon match"
# Social-Chem-101's names of the foundations (care-harm …), so inferred tags read like given ones.
FOUNDATION_NAMES = {
    "care": "care-harm",
    "fairness": "fairness-cheating",
    "loyalty": "loyalty-betrayal",
    "authority": "authority-subversion",
    "sanctity": "sanctity-degradation",
    "liberty": "liberty-oppression",
}
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")


class _ConceptCommon(TypedDict):
    """The ``make_concept`` arguments all of the lexicon's concepts share."""

    scheme: ConceptScheme
    source: str
    source_file: str
    licence: str | None


@dataclass
class Lexicon:
    categories: dict[str, str] = field(default_factory=dict)  # "1" -> "care.virtue"
    words: dict[str, set[str]] = field(default_factory=dict)  # word -> foundations
    phrases: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)  # first word -> phrases
    counts: dict[str, int] = field(default_factory=dict)  # category -> entries

    def foundations_in(self, text: str) -> dict[str, list[str]]:
        """Foundation -> the entries of the lexicon that occur in ``text`` (in order of first occurrence)."""
        tokens = _TOKEN.findall(text.lower())
        found: dict[str, dict[str, None]] = {}
        for i, tok in enumerate(tokens):
            for f in self.words.get(tok, ()):
                found.setdefault(f, {})[tok] = None
            for phrase, f in self.phrases.get(tok, ()):
                if tuple(tokens[i:i + len(phrase)]) == phrase:
                    found.setdefault(f, {})[" ".join(phrase)] = None
        return {f: list(found[f]) for f in sorted(found)}


def read_lexicon(path: Path) -> tuple[Lexicon, list[Reject]]:
    """The lexicon and the lines it could not read. A file without the ``%`` category header is an
    ``IngestError``."""
    lex = Lexicon()
    rejects: list[Reject] = []
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise IngestError(f"{path}: not UTF-8 ({e})", {"file": str(path)}) from None
    lines = text.splitlines()
    if not lines or lines[0].strip() != "%":
        raise IngestError(f"{path}: not a LIWC-format dictionary (expected a '%' line, then the categories)",
                          {"file": str(path)})
    n = 1
    while n < len(lines) and lines[n].strip() != "%":
        parts = lines[n].split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise IngestError(f"{path}: line {n + 1}: expected '<number> <category>' in the header",
                              {"file": str(path), "line": n + 1})
        lex.categories[parts[0]] = parts[1].lower()
        n += 1
    if n >= len(lines):
        raise IngestError(f"{path}: the category header is not closed by a '%' line", {"file": str(path)})
    for i in range(n + 1, len(lines)):
        raw = lines[i]
        if not raw.strip():
            continue
        parts = raw.split("\t")
        entry = " ".join(parts[0].lower().split())
        cats = [c for p in parts[1:] for c in p.split()]
        unknown = [c for c in cats if c not in lex.categories]
        if not entry or not cats or unknown:
            why = f"unknown category {', '.join(unknown)}" if unknown else "expected '<word><TAB><category>'"
            rejects.append(Reject(i + 1, why, raw))
            continue
        for c in cats:
            category = lex.categories[c]
            lex.counts[category] = lex.counts.get(category, 0) + 1
            foundation = category.split(".")[0]
            words = entry.split()
            if len(words) == 1:
                lex.words.setdefault(entry, set()).add(foundation)
            else:
                lex.phrases.setdefault(words[0], []).append((tuple(words), foundation))
    if not lex.words and not lex.phrases:
        raise IngestError(f"{path}: no entries", {"file": str(path)})
    return lex, rejects


def method_note(matches: dict[str, list[str]]) -> str:
    return METHOD + ": " + "; ".join(f"{f} ({', '.join(words)})" for f, words in matches.items())


class MoralFoundationsDictionary(WholeInputSource):
    name = SOURCE
    description = ("Moral Foundations Dictionary 2.0 (LIWC .dic): writes the foundation concepts and tags the "
                   "rules of thumb and norms in the store that have no foundations (marked inferred in provenance)")
    columns = ("% header: <n> <foundation>.<virtue|vice>", "<word><TAB><n>")

    what = "statements"  # concepts and re-tagged statements; statements are what it counts

    def records_for(self, path: Path, store: GraphStore) -> Iterator[Record]:
        return self.records(path, store)

    def records(self, path: Path, store: GraphStore) -> Iterator[Record]:
        lex, rejects = read_lexicon(check_file(path))
        yield (1, self.concepts(lex, path.name))
        yield from rejects
        for st in store.iter_statements([Kind.rule_of_thumb, Kind.norm]):
            if isinstance(st, ValueRightDuty):  # only the kinds asked for; a value, right or duty has no foundations
                raise TypeError(f"iter_statements returned a {st.kind.value} ({st.id}) for rules of thumb and norms")
            if st.moral_foundations and "moral_foundations" not in st.provenance.inferred:
                continue  # the source gave them
            matches = lex.foundations_in(st.text if st.behavior is None else f"{st.text} {st.behavior}")
            names = tuple(FOUNDATION_NAMES.get(f, f) for f in matches)
            yield (0, with_inferred_foundations(st, names, method_note(matches) if matches else None))

    def concepts(self, lex: Lexicon, file_name: str) -> list[Item]:
        common = _ConceptCommon(
            scheme=ConceptScheme.moral_foundation, source=SOURCE, source_file=file_name, licence=LICENCE
        )
        out: list[Item] = []  # the items of one record (concepts only)
        foundations: dict[str, None] = {}
        for number, category in lex.categories.items():
            foundation, _, side = category.partition(".")
            foundations[foundation] = None
            out.append(make_concept(
                label=category,
                alt_labels=[f"{foundation} {side}".strip()],
                broader=[foundation],
                definition=f"MFD 2.0 category {number}: {foundation} as a {side or 'category'} "
                           f"({lex.counts.get(category, 0)} entries)",
                source_row=number,
                **common,
            ))
        for f in foundations:
            out.append(make_concept(label=f, alt_labels=[FOUNDATION_NAMES.get(f, f)], source_row=0, **common))
        return out
