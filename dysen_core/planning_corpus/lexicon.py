"""The planning corpus's lexicon: nouns, verbs and the states verbs imply, with held-out views (issue 10).

Nouns and verbs carry *kinds* (``person``, ``holdable``, ``openable``, ``shape`` …): a verb lists the kinds of
agent it takes and, if it has a target, the kinds of target, so sampled sentences make sense ("opens the
fridge", never "opens the song"). A verb may also imply states (``Effect``): what holds before it starts
(``pre``), what holds once it has finished (``post``), and which states it ends (``ends``); imagination gold
is built from them (``states.py``). Data tables live in ``nouns.py`` and ``verbs.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

from .morphology import VerbForms, verb_forms

Role = Literal["agent", "target"]
Gender = Literal["m", "f", "n", "pl", "c"]
"""Pronoun class: he, she, it, they; ``c`` is a collective ("the crowd"), never referred to by a pronoun."""

PRONOUNS: dict[str, tuple[str, str, str]] = {
    "m": ("he", "him", "his"),
    "f": ("she", "her", "her"),
    "n": ("it", "it", "its"),
    "pl": ("they", "them", "their"),
}
"""Subject, object and possessive pronoun of each gender."""


@dataclass(frozen=True)
class Noun:
    """An entity word. ``name`` is the gold name without adjectives ("glass of water", "police officer")."""

    name: str
    kinds: frozenset[str]
    genders: tuple[Gender, ...] = ("n",)
    plural: bool = False
    article: Literal["count", "mass", "none"] = "count"  # "a ball"; "some milk", "the milk"; "plays chess"
    adjectives: tuple[str, ...] = ()  # optional modifiers that become part of the gold name ("old man")
    owned: Literal["never", "may", "always"] = "never"  # takes its agent's possessive ("his keys", "her teeth")
    relational: bool = False  # may be introduced as someone's ("his daughter")
    locative: str = ""  # preposition of a scene phrase ("in" the park, "on" the beach); empty: not a scene

    @property
    def key(self) -> str:
        return f"noun:{self.name}"


@dataclass(frozen=True)
class Effect:
    """A state a verb implies: an attribute of its agent or target, or a relation from one to the other.

    States of one subject in the same ``slot`` replace each other ("open" replaces "closed"); the slots in
    ``MULTI_SLOTS`` hold one state per object instead (holding a cup and a book at once).
    """

    slot: str
    value: str  # attribute value, or relation label
    subject: Role = "agent"
    obj: Role | None = None  # relation object; None for an attribute


@dataclass(frozen=True)
class Release:
    """A state a verb ends without replacing it ("puts down X" ends (agent, holding, X))."""

    slot: str
    subject: Role = "agent"
    obj: Role | None = None


MULTI_SLOTS = frozenset({"holding", "wearing"})


@dataclass(frozen=True)
class Verb:
    """A verb sense. Its plan predicate is ``<form> <tail> <particle> <prep>`` ("sits down at", "picks up").

    ``tail`` always follows the verb ("drives away", "falls asleep", "shake hands"); a separable ``particle``
    may also follow the object ("picks the ball up", "picks it up"); ``prep`` introduces the target.
    """

    lemma: str  # one word, the base form
    agents: frozenset[str]
    objects: frozenset[str] = frozenset()  # empty: intransitive
    tail: str = ""
    particle: str = ""
    prep: str = ""
    durative: bool = False  # can last and run alongside others (sits on, plays, holds)
    repeatable: bool = False  # "twice", "repeatedly" make sense
    background: bool = False  # kept up while doing anything else (holds, wears, listens to, hums)
    posture: bool = False  # kept up while doing things in place (sits on, leans against, waits for)
    moving: bool = False  # goes somewhere (walks to, runs, drives away): not while sitting
    pre: tuple[Effect, ...] = ()
    post: tuple[Effect, ...] = ()
    ends: tuple[Release, ...] = ()
    destinations: tuple[str, ...] = ()  # where the target goes ("in the bag"): said, dropped from the gold plan

    def __post_init__(self) -> None:
        roles = {r for e in (*self.pre, *self.post, *self.ends) for r in (e.subject, e.obj) if r}
        if "target" in roles and not self.objects:
            raise ValueError(f"intransitive verb {self.key!r} has a state about its target")

    def goes_with(self, other: Verb) -> bool:
        """Whether one agent can do both at once: a background state and anything ("holds a flashlight and
        tightens a bolt"), a posture and anything in place ("sits on the couch and plays video games"), two
        handlings in place ("types the report and drinks the coffee"); not "sits on a bench and runs across the
        field" or "sleeps and thinks"."""
        in_place = not self.moving and not other.moving
        handlings = all(v.transitive and not v.prep for v in (self, other)) and (self.durative or other.durative)
        return self.background or other.background or (in_place and (self.posture or other.posture or handlings))

    @property
    def transitive(self) -> bool:
        return bool(self.objects)

    @cached_property
    def forms(self) -> VerbForms:
        return verb_forms(self.lemma)

    @cached_property
    def rest(self) -> str:
        """The words after the verb form in the predicate ("down at", "up", "away")."""
        return " ".join(w for w in (self.tail, self.particle, self.prep) if w)

    @cached_property
    def key(self) -> str:
        """Unique name: the base predicate, with "X" marking a target ("pick up X", "jump")."""
        words = " ".join(w for w in (self.lemma, self.rest) if w)
        return f"verb:{words} X" if self.transitive else f"verb:{words}"

    def predicate(self, form: str) -> str:
        """The plan predicate for a verb form ("sat" → "sat down at")."""
        return " ".join(w for w in (form, self.rest) if w)


@dataclass(frozen=True)
class Descriptor:
    """A post-modifier of a person or animal ("in a suit"): dropped from the gold name, a state for imagination."""

    text: str  # "in a suit"
    label: str  # relation label: "in", "with"
    item: str  # the related object's name: "suit"
    kinds: frozenset[str]  # kinds of noun it can describe

    @property
    def key(self) -> str:
        return f"descriptor:{self.text}"


@dataclass(frozen=True)
class Lexicon:
    """Nouns, verbs and descriptors; ``without`` gives the view that lacks held-out entries."""

    nouns: tuple[Noun, ...]
    verbs: tuple[Verb, ...]
    descriptors: tuple[Descriptor, ...]

    def __post_init__(self) -> None:
        for what, keys in (("noun", [n.key for n in self.nouns]), ("verb", [v.key for v in self.verbs])):
            duplicates = sorted({k for k in keys if keys.count(k) > 1})
            if duplicates:
                raise ValueError(f"duplicate {what} entries in the planning lexicon: {', '.join(duplicates)}")

    def without(self, keys: Iterable[str]) -> Lexicon:
        """This lexicon minus the entries whose keys are given (the training view of a split)."""
        drop = frozenset(keys)
        return Lexicon(
            nouns=tuple(n for n in self.nouns if n.key not in drop),
            verbs=tuple(v for v in self.verbs if v.key not in drop),
            descriptors=tuple(d for d in self.descriptors if not {d.key, f"noun:{d.item}"} & drop),
        )

    @cached_property
    def names(self) -> frozenset[str]:
        return frozenset(n.name for n in self.nouns)

    @cached_property
    def agent_verbs(self) -> dict[str, tuple[Verb, ...]]:
        """Verbs by agent kind."""
        return _by_kind(self.verbs, lambda verb: verb.agents)

    @cached_property
    def nouns_of_kind(self) -> dict[str, tuple[Noun, ...]]:
        return _by_kind(self.nouns, lambda noun: noun.kinds)

    @cached_property
    def _verbs_by_noun(self) -> dict[str, tuple[Verb, ...]]:
        return {noun.key: tuple(v for v in self.verbs if v.agents & noun.kinds) for noun in self.nouns}

    def verbs_for(self, noun: Noun) -> tuple[Verb, ...]:
        """Verbs whose agent may be ``noun``."""
        return self._verbs_by_noun[noun.key]

    def nouns_for(self, kinds: frozenset[str]) -> tuple[Noun, ...]:
        """Nouns of any of ``kinds``."""
        seen: dict[str, Noun] = {}
        for kind in sorted(kinds):
            for noun in self.nouns_of_kind.get(kind, ()):
                seen.setdefault(noun.key, noun)
        return tuple(seen.values())

    @cached_property
    def agents(self) -> tuple[Noun, ...]:
        """Nouns that some verb takes as its agent."""
        return tuple(n for n in self.nouns if n.kinds & set(self.agent_verbs))

    @cached_property
    def objects(self) -> tuple[Noun, ...]:
        """Nouns that some verb takes as its target."""
        kinds = {kind for verb in self.verbs for kind in verb.objects}
        return tuple(n for n in self.nouns if n.kinds & kinds)

    @cached_property
    def scenes(self) -> tuple[Noun, ...]:
        return tuple(n for n in self.nouns if n.locative)


def _by_kind(items, kinds_of) -> dict:
    """``items`` grouped under each kind ``kinds_of(item)`` lists, in their order."""
    table: dict[str, list] = {}
    for item in items:
        for kind in kinds_of(item):
            table.setdefault(kind, []).append(item)
    return {kind: tuple(group) for kind, group in table.items()}
