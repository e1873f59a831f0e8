"""The Universal Declaration of Human Rights as a CSV of articles (``article, text_en``; any ``text_<lang>``
column works, the first one found is read) -> one statement per article.

An article is a **right**, except the article that states duties (Article 29: "Everyone has duties to the
community …"), which is a **duty**: recognised by its first sentence speaking of duties, not by its number,
so a translation or renumbered file reads the same way. Ids come from the article number. Rights and duties
stated by the Declaration hold in every situation, so they carry no situation and valence ``either``.
"""

from __future__ import annotations

import re
from typing import Any

from normgraph.errors import IngestError, InvalidInput
from normgraph.models import Kind
from normgraph.source_registry import licence_of

from ingest.canonical import make_statement
from ingest.pipeline import Record
from ingest.tabular import TabularSource, Table

SOURCE = "udhr"
LICENCE = licence_of(SOURCE)
COLUMNS = ("article", "text_en")
_DUTIES = re.compile(r"\bduties\b", re.IGNORECASE)
# The published CSV runs an article's paragraphs together ("…is possible.In the exercise…").
_SENTENCE_END = re.compile(r"[.;:](?=\s*[A-Z]|\s*$)")


def kind_of_article(text: str) -> Kind:
    first = _SENTENCE_END.split(text, maxsplit=1)[0]
    return Kind.duty if _DUTIES.search(first) else Kind.right


class Udhr(TabularSource):
    name = SOURCE
    description = "Universal Declaration of Human Rights articles as rights (and the duties article as a duty): CSV article, text_en"
    columns = COLUMNS
    required = ("article",)

    def prepare(self, table: Table) -> tuple[int, int, str]:
        text_col = next((c for c in table.index if c.startswith("text")), None)
        if text_col is None:
            raise IngestError(f"{table.path}: no text column (expected {', '.join(COLUMNS)}; found "
                              f"{', '.join(table.names)})", {"file": str(table.path)})
        return table.index["article"], table.index[text_col], table.path.name

    def row(self, fields: list[str], line: int, state: Any) -> Record:
        article_i, text_i, file_name = state
        article = fields[article_i].strip()
        text = fields[text_i].strip()
        if not article:
            raise InvalidInput("empty article number")
        if not text:
            raise InvalidInput(f"article {article}: empty text")
        return (
            line,
            make_statement(
                kind=kind_of_article(text),
                source=SOURCE,
                source_row=article,
                source_file=file_name,
                id=f"article-{article}",
                text=text,
                licence=LICENCE,
            ),
        )
