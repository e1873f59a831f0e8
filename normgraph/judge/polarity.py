"""What a norm says about its behaviour: its polarity (obligatory / permissive / prohibitive) read from the
wording, and the behaviour phrase with that wording stripped off.

The judge decides "does the behaviour follow this norm?" as polarity x relation: the relation head only ever
sees the stripped behaviour phrase, so negating a norm ("it's good to X" -> "it's rude to X") changes the
polarity and nothing else, and the answer flips by construction rather than by what a model happened to
learn. Lexical cues cover the way norms are written (Moral Stories, Social-Chem, NormBank verbalisations);
a norm with no cue falls back to the model's polarity head (``normgraph.judge.model``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Polarity = Literal["obligatory", "permissive", "prohibitive"]

# Adjectives and phrases by what they make of the behaviour. Longest first when compiled, so "not okay"
# beats "okay" and "a good idea" beats "good".
_OBLIGATORY = (
    "good", "expected", "nice", "kind", "right", "important", "polite", "considerate", "admirable", "great",
    "responsible", "thoughtful", "generous", "helpful", "appropriate", "proper", "courteous", "respectful",
    "honorable", "honourable", "brave", "caring", "commendable", "virtuous", "wise", "smart", "fair", "noble",
    "a good idea", "a good thing", "correct", "encouraged", "required", "obligatory", "customary", "necessary",
    "essential", "best", "better", "loving", "moral", "ethical", "decent", "mature", "honest", "sweet",
    "courageous", "gracious", "good manners", "the right thing", "appreciated", "valued", "praiseworthy",
    "supportive", "healthy", "safe", "smart", "sensible", "reasonable to expect", "your duty", "a duty",
    "mandatory", "compulsory", "proper etiquette", "good etiquette", "a must", "vital", "crucial",
)
_PERMISSIVE = (
    "okay", "ok", "fine", "acceptable", "allowed", "permissible", "permitted", "normal", "understandable",
    "reasonable", "alright", "all right", "common", "not a big deal", "natural", "tolerated", "usual",
    "not wrong", "not bad", "not rude", "not unexpected", "no problem", "harmless", "legal",
)
_PROHIBITIVE = (
    "bad", "wrong", "rude", "mean", "unkind", "inappropriate", "impolite", "disrespectful", "unacceptable",
    "taboo", "frowned upon", "not okay", "not ok", "not acceptable", "selfish", "cruel", "irresponsible",
    "dangerous", "illegal", "immoral", "unethical", "hurtful", "offensive", "gross", "weird", "strange",
    "unexpected", "forbidden", "prohibited", "shameful", "disgusting", "harmful", "wasteful", "unfair",
    "dishonest", "careless", "inconsiderate", "creepy", "tacky", "lazy", "risky", "unhealthy", "a bad idea",
    "petty", "childish", "hypocritical", "manipulative", "not good", "not right", "not nice", "not polite",
    "not appropriate", "not expected", "not allowed", "not cool", "uncool", "abusive", "cowardly", "greedy",
    "insensitive", "unprofessional", "irrational", "foolish", "stupid", "obnoxious", "annoying", "toxic",
    "not kind", "bad manners", "bad form", "poor form", "a bad thing", "terrible", "awful", "horrible",
    "unsafe", "wrong of you", "not fair", "discouraged", "looked down upon", "unwelcome", "not proper",
    "improper", "disgraceful", "shady", "sneaky", "controlling", "not a good idea", "not smart",
    "not responsible", "not considerate", "not healthy", "not safe", "not important",
)
_LEXICON: dict[str, Polarity] = {
    **{w: "obligatory" for w in _OBLIGATORY},
    **{w: "permissive" for w in _PERMISSIVE},
    **{w: "prohibitive" for w in _PROHIBITIVE},
}
_NEGATED: dict[Polarity, Polarity] = {"obligatory": "prohibitive", "prohibitive": "permissive", "permissive": "prohibitive"}
# "it's not rude to X" leaves X okay, "it's not good to X" makes it unexpected: negating an obligation forbids,
# negating a prohibition permits. "not" before an adjective that already has a "not …" entry is that entry.
# "it's wrong to not X": the norm is about X, with the opposite force
_INNER_NEGATED: dict[Polarity, Polarity] = {"obligatory": "prohibitive", "prohibitive": "obligatory", "permissive": "permissive"}
_ADJ = "|".join(sorted((re.escape(w) for w in _LEXICON), key=len, reverse=True))
_OPENERS = r"(?:(?:in|at|on|for|among|within|around|across|when|while|during)\s+[^,]{1,80},\s*)?"
_SUBJECT_IT = re.compile(
    rf"^{_OPENERS}(?:it\s+is|it's|its|it\s+was|it\s+can\s+be|it\s+would\s+be|it\s+is\s+considered|it's\s+considered|"
    rf"it\s+is\s+generally|it's\s+generally|it\s+is\s+usually|it's\s+usually|it\s+is\s+always|it's\s+always|"
    rf"it\s+is\s+very|it's\s+very|it\s+is\s+really|it's\s+really|it\s+seems|it\s+seen\s+as|that's|that\s+is|"
    rf"people\s+think\s+it's|we\s+think\s+it's|it\s+is\s+seen\s+as|it's\s+seen\s+as)\s+"
    rf"(?P<neg>not\s+|never\s+|n't\s+)?(?:very\s+|really\s+|so\s+|quite\s+|extremely\s+|a\s+bit\s+|kind\s+of\s+|always\s+|generally\s+|usually\s+|considered\s+|seen\s+as\s+)*"
    rf"(?P<adj>{_ADJ})(?:\s+(?:for\s+\w+\s+|of\s+\w+\s+)?(?:to|when|if|that|for|about|while|because)\b)?\s*(?P<rest>.*)$",
    re.IGNORECASE,
)
_MODAL = re.compile(
    rf"^{_OPENERS}(?:(?:you're|you\s+are|you|people|one|we|everyone|everybody|they|a\s+person|someone|parents|friends|guests|kids|children|adults|employees|students|members)\s+)?"
    r"(?P<modal>expected\s+to|should\s+not|shouldn't|should\s+never|should|must\s+not|mustn't|must\s+never|must|ought\s+not\s+to|ought\s+to|"
    r"need\s+to|needs\s+to|have\s+to|has\s+to|are\s+expected\s+to|is\s+expected\s+to|are\s+supposed\s+to|is\s+supposed\s+to|"
    r"are\s+not\s+supposed\s+to|aren't\s+supposed\s+to|are\s+not\s+expected\s+to|aren't\s+expected\s+to|"
    r"can\s+not|cannot|can't|can|may\s+not|may|are\s+allowed\s+to|is\s+allowed\s+to|are\s+not\s+allowed\s+to|aren't\s+allowed\s+to|"
    r"shall\s+not|shall|never|always|do\s+not|don't|please\s+don't|please\s+do\s+not|please)\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
_MODALS: dict[str, Polarity] = {
    "should": "obligatory", "must": "obligatory", "ought to": "obligatory", "need to": "obligatory",
    "needs to": "obligatory", "have to": "obligatory", "has to": "obligatory", "are expected to": "obligatory",
    "is expected to": "obligatory", "are supposed to": "obligatory", "is supposed to": "obligatory",
    "shall": "obligatory", "expected to": "obligatory", "always": "obligatory", "please": "obligatory",
    "can": "permissive", "may": "permissive", "are allowed to": "permissive", "is allowed to": "permissive",
}
# A statement that ends with its judgment: "Eating with your hands is expected", NormBank verbalisations
# ("In a restaurant, a customer shouting is unexpected, since …").
_TRAILING = re.compile(
    rf"^(?P<rest>.+?)\s+(?:is|are|was|would\s+be|is\s+considered|are\s+considered|is\s+seen\s+as|are\s+seen\s+as|"
    rf"is\s+usually|are\s+usually|is\s+generally|are\s+generally|is\s+always|are\s+always)\s+"
    rf"(?P<neg>not\s+|never\s+|almost\s+never\s+|rarely\s+)?(?:very\s+|really\s+|generally\s+|usually\s+|considered\s+|even\s+|a\s+)*(?P<adj>{_ADJ})"
    rf"(?:\s+(?:here|there|in\s+this\s+community|in\s+this\s+culture))?(?:\s*[,;.:(]|\s+(?:since|because|as|and|but|unless|if|when)\b|$)",
    re.IGNORECASE,
)
_COMMUNITY = re.compile(
    r"^(?:(?:in|among|within|around|for)\s+(?:this|our|my|their|the)\s+(?:community|culture|family|group|country|town|village|house|home|office|workplace|team|circle|society)(?:\s+of\s+\w+)?\s*,?\s*)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ReadNorm:
    """A norm as the judge reads it: the behaviour it is about and what it makes of it."""

    behavior: str
    polarity: Polarity | None
    cue: str | None  # the words that gave the polarity, for the evidence; None when no cue was found
    form: str | None = None  # how it was written: "it" (it's good to X), "modal" (you should X), "trailing" (X is rude)


def _clean(rest: str) -> str:
    rest = rest.strip().strip(" .!;,")
    return rest or ""


def _negate_if(polarity: Polarity, negated: bool) -> Polarity:
    return _NEGATED[polarity] if negated else polarity


def read_norm(text: str) -> ReadNorm:
    """The behaviour and polarity of a norm written in words. ``polarity`` is None when no cue is found (the
    model's polarity head decides then); ``behavior`` is then the whole text."""
    t = " ".join(text.split())
    t = _COMMUNITY.sub("", t, count=1) or t
    m = _SUBJECT_IT.match(t)
    if m:
        adj = m.group("adj").lower()
        negated = bool(m.group("neg"))
        rest = _clean(m.group("rest"))
        if m.group(0)[: m.start("rest")].rstrip().lower().endswith("that"):  # "it is expected that you X"
            rest = re.sub(r"^(?:you|people|one|we|they|everyone)\s+", "", rest, flags=re.IGNORECASE)
        pol: Polarity = _negate_if(_LEXICON[adj], negated)
        # "it's wrong to not help" / "it's good to never lie": the behaviour itself is negated
        inner = re.match(r"^(?:not|never|n't)\s+(?P<x>.+)$", rest, re.IGNORECASE)
        if inner:
            rest, pol = inner.group("x"), _INNER_NEGATED[pol]
        return ReadNorm(rest or t, pol, m.group(0)[: m.start("rest")].strip() if rest else adj, "it")
    m = _MODAL.match(t)
    if m:
        modal = re.sub(r"\s+", " ", m.group("modal").lower())
        rest = _clean(m.group("rest"))
        if modal.startswith(("should not", "shouldn't", "should never", "must not", "mustn't", "must never",
                             "ought not", "can not", "cannot", "can't", "may not", "are not", "aren't",
                             "shall not", "never", "do not", "don't", "please don't", "please do not")):
            pol = "prohibitive"
        else:
            pol = _MODALS.get(modal, "obligatory")
        return ReadNorm(rest, pol, modal, "modal")
    m = _TRAILING.match(t)
    if m:
        adj = m.group("adj").lower()
        pol = _negate_if(_LEXICON[adj], bool(m.group("neg")))
        return ReadNorm(_clean(m.group("rest")), pol, ("not " if m.group("neg") else "") + adj, "trailing")
    m = re.match(r"^(?P<rest>.+?)\s+should\s+be\s+avoided\b", t, re.IGNORECASE)
    if m:
        return ReadNorm(_clean(m.group("rest")), "prohibitive", "should be avoided", "trailing")
    return ReadNorm(t.strip(" ."), None, None)


# --- negation, for training and for the norm-following benchmark ------------------------------------------

_OPPOSITE_TEMPLATES: dict[Polarity, tuple[str, ...]] = {
    # what a norm of this polarity becomes when negated
    "obligatory": ("It's wrong to {x}.", "You shouldn't {x}.", "It is rude to {x}.", "It's bad to {x}.",
                   "People should not {x}.", "It is not good to {x}."),
    "prohibitive": ("It's good to {x}.", "You should {x}.", "It is expected that you {x}.", "It's kind to {x}.",
                    "People ought to {x}.", "It is important to {x}."),
    "permissive": ("It's wrong to {x}.", "You shouldn't {x}.", "It is not okay to {x}."),
}


_TRAILING_OPPOSITE: dict[Polarity, tuple[str, str]] = {
    "obligatory": ("unexpected", "wrong"), "permissive": ("unexpected", "not okay"), "prohibitive": ("expected", "good"),
}


def negate(text: str, variant: int = 0) -> tuple[str, Polarity] | None:
    """A norm saying the opposite of ``text`` about the same behaviour, and its polarity; None when the norm's
    wording cannot be read. ``variant`` picks one of several phrasings."""
    read = read_norm(text)
    if read.polarity is None or not read.behavior:
        return None
    x = read.behavior
    if read.form == "trailing":
        word = _TRAILING_OPPOSITE[read.polarity][variant % 2]
        return f"{x} is {word}.", ("prohibitive" if read.polarity != "prohibitive" else "obligatory")
    templates = _OPPOSITE_TEMPLATES[read.polarity]
    if x[:1].isupper() and not x[:2].isupper():
        x = x[0].lower() + x[1:]
    out = templates[variant % len(templates)].format(x=x)
    return out, ("prohibitive" if read.polarity != "prohibitive" else "obligatory")
