"""Turn a norm (setting, behaviour, constraints, label) into one readable English sentence.

    ("restaurant", "shout", [person role is customer, person age bracket is toddler], okay)
    -> "In a restaurant, a toddler customer shouting is okay."

The sentence is the stored text of every NormBank norm and what embeddings are computed from, so it must
read naturally and be deterministic: the same norm always gives the same sentence, whatever order its
constraints were written in. Inflection is deliberately small: only the first word of a behaviour is turned
into its -ing form.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable

from normgraph.models import Constraint, Label, Relation, Subject

_VOWEL_SOUND_EXCEPTIONS_A = ("uni", "use", "usu", "eu", "one", "once", "ewe", "ufo")
_VOWEL_SOUND_EXCEPTIONS_AN = ("hour", "honest", "honor", "honour", "heir")
_DETERMINERS = ("a ", "an ", "the ", "your ", "my ", "our ", "their ", "some ", "any ")


def with_article(phrase: str) -> str:
    """``customer`` -> ``a customer``, ``office`` -> ``an office``; phrases that already have one are kept."""
    low = phrase.lower()
    if low.startswith(_DETERMINERS):
        return phrase
    if low.startswith(_VOWEL_SOUND_EXCEPTIONS_AN):
        return "an " + phrase
    if low[:1] in "aeiou" and not low.startswith(_VOWEL_SOUND_EXCEPTIONS_A):
        return "an " + phrase
    return "a " + phrase


def _strip_article(phrase: str) -> str:
    low = phrase.lower()
    for art in ("a ", "an "):
        if low.startswith(art):
            return phrase[len(art):]
    return phrase


# Verbs ending in -ing that are not already participles.
_ING_VERBS = frozenset(
    "bring sing ring sting swing cling fling sling spring string wring ding ping zing".split()
)
# Stressed-final-syllable verbs that double their last consonant (the one-syllable ones follow a rule).
_DOUBLING = frozenset(
    "admit begin commit compel control equip forbid forget kidnap occur omit patrol permit prefer rebel "
    "refer regret submit transmit upset unzip outrun overrun unplug".split()
)
_C_TO_CK = frozenset("panic picnic mimic traffic frolic".split())
_VOWELS = "aeiou"
_vowel_groups = re.compile(r"[aeiouy]+")


def ing_form(verb: str) -> str:
    """The -ing form of one verb: shout -> shouting, make -> making, sit -> sitting, lie -> lying."""
    w = verb.lower()
    if not w.isalpha() or len(w) < 2:
        return verb
    if w.endswith("ing") and w not in _ING_VERBS and len(w) > 4:
        return verb
    if w == "be":
        return verb + "ing"
    if w in _C_TO_CK:
        return verb + "king"
    if w.endswith("ie"):
        return verb[:-2] + "ying"
    if w.endswith(("ee", "oe", "ye")):
        return verb + "ing"
    if w.endswith("e"):
        return verb[:-1] + "ing"
    if w in _DOUBLING or _one_syllable_cvc(w):
        return verb + verb[-1] + "ing"
    return verb + "ing"


def _one_syllable_cvc(w: str) -> bool:
    if len(_vowel_groups.findall(w[:-1])) != 1 or len(w) < 3:
        return False
    return w[-1] not in _VOWELS + "wxy" and w[-2] in _VOWELS and w[-3] not in _VOWELS


_SECOND_PERSON = {"your": "their", "yours": "theirs", "yourself": "themselves", "yourselves": "themselves"}
_word = re.compile(r"[A-Za-z]+")


@lru_cache(maxsize=65536)
def gerund(behavior: str) -> str:
    """``add salt to your food`` -> ``adding salt to their food`` (the actor is now in the third person)."""
    words = behavior.strip().split(" ")
    if not words or not words[0]:
        return behavior.strip()
    first = words[0]
    if first.lower() == "not" and len(words) > 1:
        words = ["not", ing_form(words[1])] + words[2:]
    else:
        words[0] = ing_form(first)
    text = " ".join(words)
    return _word.sub(lambda m: _SECOND_PERSON.get(m.group(0).lower(), m.group(0)), text)


# --- constraints -> phrases --------------------------------------------------------------------------------

_AGE = "age bracket"
_ORDINAL_AGE = {
    Relation.le: "aged {v} or younger",
    Relation.lt: "aged younger than {v}",
    Relation.ge: "aged {v} or older",
    Relation.gt: "aged older than {v}",
}
_GENERIC_REL = {
    Relation.is_: "is",
    Relation.is_not: "is not",
    Relation.lt: "is less than",
    Relation.le: "is at most",
    Relation.gt: "is more than",
    Relation.ge: "is at least",
}
# How a person attribute reads as a relative clause after the person ("a customer who has children").
_PERSON_CLAUSE = {
    "children": "who {v}",
    "condition or state": "who is {v}",
    "characteristic": "who is {v}",
    "employment": "who is {v}",
    "marriage": "who is {v}",
    "sexuality": "who is {v}",
    "race or ethnicity": "who is {v}",
    "social class": "who is {v}",
    "emotion": "who feels {v}",
    "medical condition": "with {v}",
    "disability": "with {v}",
    "diet": "on {a} diet",
    "country": "from {p}",
}
_GENDER_ADJECTIVE = {"man": "male", "woman": "female", "boy": "male", "girl": "female"}
_TIME_IN_THE = frozenset({"morning", "afternoon", "evening", "early morning"})
# Settings one is "on" rather than "in"; everything else reads with "in".
_ON_SETTINGS = frozenset({
    "beach", "bus", "boat", "train", "airplane", "plane", "ship", "ferry", "farm", "ranch", "golf course",
    "tennis court", "basketball court", "baseball field", "athletic field", "running track", "balcony",
    "bridge", "cliff", "coast", "country road", "mountain", "street", "sidewalk", "subway platform", "stage",
})
_SMALL_WORDS = frozenset({"and", "of", "the", "a", "an", "in", "on", "for"})


def _place_name(value: str) -> str:
    """Countries are written in lower case in NormBank ('united states'); capitalise them for the sentence."""
    if value != value.lower():
        return value
    words = value.split(" ")
    return " ".join(w if (i and w in _SMALL_WORDS) else w[:1].upper() + w[1:] for i, w in enumerate(words))


def _sort_key(c: Constraint) -> tuple[str, str, str]:
    return (c.attribute, c.relation.value, c.value.lower())


def _person_clause(c: Constraint) -> str:
    v = c.value
    if c.attribute == "behavior":
        ing = gerund(v)
        return f"not {ing}" if c.relation is Relation.is_not else ing
    if c.relation is Relation.is_not:
        if c.attribute in ("role", _AGE, "gender"):
            return f"who is not {with_article(v)}"
        tpl = _PERSON_CLAUSE.get(c.attribute, "")
        if tpl.startswith("who is "):
            return f"who is not {v}"
        return f"whose {c.attribute} is not {v}"
    if c.attribute == _AGE and c.relation in _ORDINAL_AGE:
        return _ORDINAL_AGE[c.relation].format(v=v)
    if c.relation is not Relation.is_:
        return f"whose {c.attribute} {_GENERIC_REL[c.relation]} {v}"
    if c.attribute == "gender":
        return f"who is {with_article(v)}"
    if c.attribute == _AGE:
        return f"who is {with_article(v)}"
    clause = _PERSON_CLAUSE.get(c.attribute)
    if clause is None:
        return f"whose {c.attribute} is {v}"
    tpl = clause
    return tpl.format(v=v, a=with_article(v), p=_place_name(v))


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _person_phrase(cs: list[Constraint], fallback: str, doing_as_clause: bool = False) -> tuple[str, list[str]]:
    """A noun phrase for the actor (or the other person) and the things they are also doing.

    Role, age bracket and gender fold into the noun ("a male toddler customer"); everything else becomes
    a clause after it. With ``doing_as_clause`` the also-doing constraints become "who is …" clauses.
    """
    role = age = gender = None
    for c in cs:
        if c.relation is Relation.is_:
            if c.attribute == "role":
                role = role or c
            elif c.attribute == _AGE:
                age = age or c
            elif c.attribute == "gender":
                gender = gender or c
    gender_adj = _GENDER_ADJECTIVE.get(gender.value.lower()) if gender else None
    used: list[Constraint] = []
    modifiers: list[str] = []
    head: str | None = None
    if role is not None:
        head = _strip_article(role.value)
        used.append(role)
        if age is not None:
            modifiers.append(age.value)
            used.append(age)
    elif age is not None:
        head = age.value
        used.append(age)
    elif gender is not None:
        head = gender.value
        used.append(gender)
    if head is not None and gender is not None and gender_adj is not None and gender not in used:
        modifiers.insert(0, gender_adj)
        used.append(gender)

    doing: list[str] = []
    direct: list[str] = []
    relative: list[str] = []
    for c in cs:
        if any(c is u for u in used):
            continue
        clause = _person_clause(c)
        if c.attribute == "behavior":
            if doing_as_clause:
                relative.append("who is " + clause)
            else:
                doing.append(clause)
        elif clause.startswith(("who ", "whose ")):
            relative.append(clause)
        else:
            # Participle-like phrases ("aged teen or younger", "with diabetes", "from Japan") attach directly.
            direct.append(clause)
    phrase = fallback if head is None else with_article(" ".join([*modifiers, head]))
    if direct:
        phrase += " " + " ".join(direct)
    if relative:
        phrase += " " + _join(relative)
    return phrase, doing


def _environment(cs: list[Constraint]) -> tuple[list[str], list[str]]:
    """Adverbial phrases that attach to the setting ("at night", "in Japan") and "when …" conditions."""
    adverbials: list[str] = []
    conditions: list[str] = []
    for c in cs:
        v, a = c.value, c.attribute
        if c.relation is Relation.is_:
            if a == "time of day":
                adverbials.append(f"in the {v}" if v.lower() in _TIME_IN_THE else f"at {v}")
                continue
            if a in ("day of the week", "holiday or special day"):
                adverbials.append(f"on {v}")
                continue
            if a == "country":
                adverbials.append(f"in {_place_name(v)}")
                continue
            if a in ("season", "time period"):
                adverbials.append(f"in {v}")
                continue
        conditions.append(f"the {a} {_GENERIC_REL[c.relation]} {v}")
    return adverbials, conditions


_LABEL_WORD = {Label.expected: "expected", Label.okay: "okay", Label.unexpected: "unexpected"}


def verbalise_norm(
    setting: str | None,
    behavior: str,
    constraints: Iterable[Constraint],
    label: Label | str,
) -> str:
    """One English sentence for a norm; constraint order does not matter (clauses are sorted)."""
    label = Label(label)
    adverbials, conditions, actor, doing = _frame_phrases(tuple(constraints))
    core = f"{actor} {gerund(behavior)}{doing}"
    lead = _place(setting.strip()) if setting else ""
    if adverbials:
        lead = f"{lead} {adverbials}" if lead else adverbials
    if conditions:
        lead = f"{lead}, {conditions}" if lead else conditions
    sentence = f"{lead}, {core}" if lead else core
    sentence = f"{sentence} is {_LABEL_WORD[label]}."
    return sentence[0].upper() + sentence[1:]


@lru_cache(maxsize=4096)
def _place(setting: str) -> str:
    preposition = "on" if setting.lower() in _ON_SETTINGS else "in"
    return f"{preposition} {with_article(setting)}"


# NormBank repeats the same frames across many rows, so the frame's phrases are worth caching.
@lru_cache(maxsize=65536)
def _frame_phrases(constraints: tuple[Constraint, ...]) -> tuple[str, str, str, str]:
    """(adverbials after the setting, "when …" conditions, the actor's noun phrase, " while …" doing)."""
    cs = sorted(constraints, key=_sort_key)
    person = [c for c in cs if c.subject is Subject.person]
    other = [c for c in cs if c.subject is Subject.other]
    env = [c for c in cs if c.subject is Subject.environment]
    adverbials, conditions = _environment(env)
    if other:
        other_np, _ = _person_phrase(other, "someone", doing_as_clause=True)
        conditions.insert(0, f"{other_np} is present")
    actor, doing = _person_phrase(person, "someone")
    return (
        " ".join(adverbials),
        "when " + _join(conditions) if conditions else "",
        actor,
        " while " + _join(doing) if doing else "",
    )
