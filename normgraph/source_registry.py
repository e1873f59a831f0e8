"""Every source the bank can hold, with its licence and the attribution its licence asks for.

Readers take the licence string they stamp on each record from here, so a statement's ``provenance.licence``
and the registry never disagree; exports write one notice per source they contain (CC BY-SA requires the
credit, a link to the licence and, for share-alike, a note that derived data carries the same licence).

A source that is not registered (a third-party reader, a JSONL file named after itself) is exported with
whatever licence its records state and a generic notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True)
class SourceInfo:
    name: str  # as written in Provenance.source
    title: str
    licence: str  # as stamped on records
    licence_url: str | None
    attribution: str  # who to credit and what to cite
    url: str | None
    share_alike: bool = False

    def notice(self) -> str:
        """The attribution notice for this source, as exports and ``normgraph sources`` print it."""
        parts = [f"{self.title} ({self.name}): {self.attribution}"]
        licence = self.licence + (f" <{self.licence_url}>" if self.licence_url else "")
        parts.append(f"Licence: {licence}.")
        if self.url:
            parts.append(f"Source: {self.url}.")
        if self.share_alike:
            parts.append(
                "Share-alike: data derived from this source, including exports of this bank, is distributed "
                "under the same licence."
            )
        return " ".join(parts)


CC_BY_SA_4 = "CC BY-SA 4.0"
_CC_BY_SA_4_URL = "https://creativecommons.org/licenses/by-sa/4.0/"

SOURCES: dict[str, SourceInfo] = {
    s.name: s
    for s in (
        SourceInfo(
            "normbank",
            "NormBank",
            CC_BY_SA_4,
            _CC_BY_SA_4_URL,
            "Ziems, Dwivedi-Yu, Wang, Halevy and Yang (2023), NormBank: A Knowledge Bank of Situational Social "
            "Norms, ACL 2023.",
            "https://github.com/SALT-NLP/normbank",
            share_alike=True,
        ),
        SourceInfo(
            "normbank-taxonomy",
            "NormBank SCENE taxonomy",
            CC_BY_SA_4,
            _CC_BY_SA_4_URL,
            "Ziems et al. (2023), NormBank, ACL 2023 (the SCENE taxonomy of settings, roles and attributes).",
            "https://github.com/SALT-NLP/normbank",
            share_alike=True,
        ),
        SourceInfo(
            "social-chem",
            "Social-Chem-101",
            CC_BY_SA_4,
            _CC_BY_SA_4_URL,
            "Forbes, Hwang, Shwartz, Sap and Choi (2020), Social Chemistry 101: Learning to Reason about Social "
            "and Moral Norms, EMNLP 2020.",
            "https://github.com/mbforbes/social-chemistry-101",
            share_alike=True,
        ),
        SourceInfo(
            "valueprism",
            "ValuePrism",
            "AI2 ImpACT License - Medium Risk Artifacts",
            "https://allenai.org/licenses/impact-mr",
            "Sorensen et al. (2024), Value Kaleidoscope: Engaging AI with Pluralistic Human Values, Rights, and "
            "Duties, AAAI 2024.",
            "https://huggingface.co/datasets/allenai/ValuePrism",
        ),
        SourceInfo(
            "moral-stories",
            "Moral Stories",
            "MIT",
            "https://opensource.org/licenses/MIT",
            "Emelin, Le Bras, Hwang, Forbes and Choi (2021), Moral Stories: Situated Reasoning about Norms, "
            "Intents, Actions, and their Consequences, EMNLP 2021.",
            "https://github.com/demelin/moral_stories",
        ),
        SourceInfo(
            "ethics",
            "ETHICS",
            "MIT",
            "https://opensource.org/licenses/MIT",
            "Hendrycks, Burns, Basart, Critch, Li, Song and Steinhardt (2021), Aligning AI With Shared Human "
            "Values, ICLR 2021.",
            "https://github.com/hendrycks/ethics",
        ),
        SourceInfo(
            "privacylens",
            "PrivacyLens",
            "MIT",
            "https://opensource.org/licenses/MIT",
            "Shao, Li, Shi, Liu and Yang (2024), PrivacyLens: Evaluating Privacy Norm Awareness of Language "
            "Models in Action, NeurIPS 2024 Datasets and Benchmarks.",
            "https://github.com/SALT-NLP/PrivacyLens",
        ),
        SourceInfo(
            "values",
            "Touché23-ValueEval value taxonomy (Schwartz values)",
            "CC BY 4.0",
            "https://creativecommons.org/licenses/by/4.0/",
            "Kiesel et al. (2023), SemEval-2023 Task 4 - ValueEval: Identification of Human Values behind "
            "Arguments; values after Schwartz et al. (2012).",
            "https://touche.webis.de/semeval23/touche23-web/",
        ),
        SourceInfo(
            "udhr",
            "Universal Declaration of Human Rights",
            "public domain",
            None,
            "United Nations General Assembly (1948), Universal Declaration of Human Rights, resolution 217 A.",
            "https://www.un.org/en/about-us/universal-declaration-of-human-rights",
        ),
        SourceInfo(
            "mfd",
            "Moral Foundations Dictionary 2.0",
            "research use with citation",
            None,
            "Frimer, Boghrati, Haidt, Graham and Dehghani (2019), Moral Foundations Dictionary for Linguistic "
            "Analyses 2.0.",
            "https://osf.io/ezn37/",
        ),
    )
}


def source_info(name: str) -> SourceInfo | None:
    return SOURCES.get(name)


def licence_of(name: str) -> str | None:
    info = SOURCES.get(name)
    return info.licence if info else None


def attribution_notices(names: Iterable[str], licences: dict[str, set[str]] | None = None) -> list[str]:
    """One notice per source name (sorted): the registry's, or a generic one naming the licences the records
    of an unregistered source state."""
    out: list[str] = []
    for name in sorted(set(names)):
        info = SOURCES.get(name)
        if info is not None:
            out.append(info.notice())
            continue
        stated = sorted((licences or {}).get(name, set()))
        licence = ", ".join(stated) if stated else "not stated"
        out.append(f"{name}: not a registered source; licence as stated by its records: {licence}.")
    return out
