"""Stable, content-derived identifiers, so re-ingesting the same input is a no-op."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_space = re.compile(r"\s+")
_non_slug = re.compile(r"[^a-z0-9]+")


def normalise_text(text: str) -> str:
    """The form under which two surface texts count as the same concept: NFKC, lower case, single spaces."""
    return _space.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def slug(text: str) -> str:
    s = _non_slug.sub("-", normalise_text(text)).strip("-")
    return s or "x" + _digest(text)[:8]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def statement_id(kind_prefix: str, *parts: str) -> str:
    """``n-3f2a…``: a prefix for the kind and 16 hex digits of the hash of the identifying parts."""
    return f"{kind_prefix}-{_digest(*parts)[:16]}"


def concept_id(scheme: str, label: str, attribute: str | None = None) -> str:
    """``setting/restaurant``, ``attribute_value/age-bracket/teen``: readable and derived from the label."""
    if attribute:
        return f"{scheme}/{slug(attribute)}/{slug(label)}"
    return f"{scheme}/{slug(label)}"


KIND_PREFIX = {
    "norm": "n",
    "rule_of_thumb": "rot",
    "value": "v",
    "right": "r",
    "duty": "d",
}
