"""English inflection for the planning corpus: verb forms and the indefinite article.

Regular rules plus small exception tables, so the lexicon lists only base forms (and the odd irregular past).
"""

from __future__ import annotations

from dataclasses import dataclass

VOWELS = "aeiou"

IRREGULAR_PAST = {
    "begin": "began", "bite": "bit", "blow": "blew", "break": "broke", "bring": "brought", "build": "built",
    "buy": "bought", "catch": "caught", "come": "came", "cut": "cut", "dig": "dug", "dive": "dove",
    "do": "did", "draw": "drew", "drink": "drank", "drive": "drove", "eat": "ate", "fall": "fell",
    "feed": "fed", "fly": "flew", "freeze": "froze", "get": "got", "give": "gave", "go": "went",
    "grow": "grew", "hang": "hung", "hit": "hit", "hold": "held", "keep": "kept", "kneel": "knelt",
    "lead": "led", "leave": "left", "let": "let", "lie": "lay", "light": "lit", "make": "made",
    "put": "put", "read": "read", "ride": "rode", "ring": "rang", "rise": "rose", "run": "ran",
    "say": "said", "see": "saw", "sell": "sold", "set": "set", "shake": "shook", "shoot": "shot",
    "shut": "shut", "sing": "sang", "sink": "sank", "sit": "sat", "sleep": "slept", "slide": "slid",
    "speak": "spoke", "spin": "spun", "stand": "stood", "steal": "stole", "sting": "stung", "sweep": "swept",
    "swim": "swam", "swing": "swung", "take": "took", "teach": "taught", "tear": "tore", "throw": "threw",
    "wake": "woke", "wear": "wore", "win": "won", "wind": "wound", "write": "wrote", "lay": "laid",
    "pay": "paid", "stick": "stuck", "fight": "fought", "hide": "hid", "bend": "bent",
    "send": "sent", "spend": "spent", "creep": "crept", "leap": "leapt", "feel": "felt",
    "find": "found", "tell": "told", "become": "became", "shrink": "shrank", "think": "thought", "speed": "sped",
    "shine": "shone",
}
DOUBLED = frozenset({"begin", "forget", "admit", "unwrap", "unplug", "refer", "permit", "equip", "control", "patrol"})
"""Verbs of more than one syllable that still double their last consonant (stress on the last syllable)."""
NOT_DOUBLED = frozenset({"open", "visit", "listen", "enter", "water", "order", "offer", "answer", "wander"})


@dataclass(frozen=True)
class VerbForms:
    """The four forms a sentence can use: base (plural present), third person singular, -ing, past."""

    base: str
    third: str
    ing: str
    past: str


def _doubles(base: str) -> bool:
    if base in DOUBLED:
        return True
    if base in NOT_DOUBLED or len(base) < 3 or base[-1] in "wxy":
        return False
    c1, v, c2 = base[-3:]
    vowel_groups = sum(1 for i, ch in enumerate(base) if ch in VOWELS and (i == 0 or base[i - 1] not in VOWELS))
    return c1 not in VOWELS and v in VOWELS and c2 not in VOWELS and vowel_groups == 1


def third_person(base: str) -> str:
    """``watch`` → ``watches``, ``carry`` → ``carries``, ``go`` → ``goes``."""
    if base in ("have",):
        return "has"
    if base.endswith(("s", "sh", "ch", "x", "z")) or (base.endswith("o") and not base.endswith("oo")):
        return base + "es"
    if base.endswith("y") and base[-2] not in VOWELS:
        return base[:-1] + "ies"
    return base + "s"


def ing_form(base: str) -> str:
    """``sit`` → ``sitting``, ``tie`` → ``tying``, ``bake`` → ``baking``, ``see`` → ``seeing``."""
    if base.endswith("ie"):
        return base[:-2] + "ying"
    if base.endswith("e") and not base.endswith(("ee", "ye", "oe")) and len(base) > 2:
        return base[:-1] + "ing"
    if _doubles(base):
        return base + base[-1] + "ing"
    return base + "ing"


def past_form(base: str) -> str:
    """``jump`` → ``jumped``, ``stop`` → ``stopped``, ``carry`` → ``carried``, irregulars from the table."""
    if base in IRREGULAR_PAST:
        return IRREGULAR_PAST[base]
    if base.endswith("e"):
        return base + "d"
    if base.endswith("y") and base[-2] not in VOWELS:
        return base[:-1] + "ied"
    if _doubles(base):
        return base + base[-1] + "ed"
    return base + "ed"


def verb_forms(base: str) -> VerbForms:
    """All forms of a one-word verb."""
    return VerbForms(base=base, third=third_person(base), ing=ing_form(base), past=past_form(base))


def article(phrase: str) -> str:
    """``a`` or ``an`` for ``phrase`` by its first sound (``an apron``, ``a uniform``, ``an hour``)."""
    word = phrase.split()[0].lower()
    if word.startswith(("uni", "use", "eu", "one")):
        return "a"
    if word.startswith(("hour", "honest")):
        return "an"
    return "an" if word[0] in VOWELS else "a"
