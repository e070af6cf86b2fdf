"""Wording a draft: the sentence and its gold action plan, by the project's gold conventions (issue 10).

Conventions (those of ``dysen_core/demos/planning.jsonl`` and ``benchmarks/data/planning_dev.jsonl``):

- agent and target are the noun phrase without determiners, numbers, possessives or post-modifiers, keeping
  adjectives ("his keys" → keys, "two boys" → boys, "a man in a suit" → man, "an old man" → old man); a
  pronoun is resolved to its antecedent's name; one entity keeps one name.
- the predicate is the verb as the text inflects it plus its complement, particle and the preposition that
  introduces the target ("sits down at", "picks up" also in "picks it up", "drives away"); auxiliaries and
  aspectual verbs are dropped ("is riding" → riding, "starts clapping" → clapping).
- events are listed by start time, then by mention.

A pronoun is only used where it cannot be misread: no other entity named so far takes the same pronoun.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from ..datamodel import ActionPlan, Event
from ..demos import PLAN_TAGS
from .constructions import Part, mention_order
from .lexicon import PRONOUNS, Noun
from .morphology import article, verb_forms
from .sampling import Clause, Draft, Referent

ELLIPTIC = frozenset({"and", "then", "and_then", "after_that", "finally", "caption"})
"""Joiners after which a clause may drop a subject it shares with the clause before ("…, and then pours it")."""
_PLACEHOLDER = re.compile(r"\{([^}]+)\}")


@dataclass(frozen=True)
class Sentence:
    """A worded draft: its text, gold plan and the clause behind each plan event (for the state rules)."""

    draft: Draft
    plan: ActionPlan
    clauses: tuple[Clause, ...]  # aligned with plan.events
    tags: tuple[str, ...]


def realise(draft: Draft, rng: random.Random) -> Sentence:
    """Word ``draft`` and derive its gold plan."""
    writer = _Writer(draft, rng)
    text = writer.write()
    order = sorted(range(len(writer.told)), key=lambda k: (writer.told[k][1][0], k))
    told = [writer.told[k] for k in order]
    events = [Event(agent=c.agent.name, predicate=predicate, target=c.target.name if c.target else None,
                    start=start, end=end) for c, (start, end), predicate in told]
    plan = ActionPlan(prompt=text, events=events)
    return Sentence(draft=draft, plan=plan, clauses=tuple(c for c, _, _ in told), tags=_tags(draft, plan))


def _tags(draft: Draft, plan: ActionPlan) -> tuple[str, ...]:
    family = draft.construction.family
    tags = {family, draft.domain}
    if family in ("concurrent", "overlap") and any(a.end <= b.start for a in plan.events for b in plan.events):
        tags.add("sequential")
    if len({e.agent for e in plan.events}) > 1:
        tags.add("multi-agent")
    if any(e.target is None for e in plan.events):
        tags.add("intransitive")
    return tuple(t for t in PLAN_TAGS if t in tags)


class _Writer:
    """Words one draft left to right, keeping track of what the text has named so far."""

    def __init__(self, draft: Draft, rng: random.Random):
        self.draft = draft
        self.rng = rng
        self.style = draft.style
        self.mentions: list[tuple[object, str]] = []  # (entity, pronoun class) in order of mention
        self.named: set[int] = set()  # referents introduced by a full noun phrase
        self.told: list[tuple[Clause, tuple[int, int], str]] = []  # clause, span, predicate in mention order
        self.cataphor: Referent | None = None

    # -- the sentence ---------------------------------------------------------------------------------------
    def write(self) -> str:
        c = self.draft.construction
        parts = {p.name: (p, clauses, spans) for p, clauses, spans in zip(c.parts, self.draft.parts, self.draft.times)}
        opening = ""
        if self.draft.scene is not None:
            opening = f"{self._scene(self.draft.scene)}, "
        if c.cataphora and self.rng.random() < 0.5:
            self.cataphor = self._cataphor(c.template, parts)
        pieces, pos = [], 0
        for match in _PLACEHOLDER.finditer(c.template):
            pieces.append(c.template[pos:match.start()])
            name, _, how = match.group(1).partition(":")
            if how:
                pieces.append(self._remention(parts[name], how))
            else:
                pieces.append(self._coordinate([parts[n] for n in name.split(",")]))
                self.cataphor = None  # a forward pronoun only reaches into the next part
            pos = match.end()
        pieces.append(c.template[pos:])
        return self._finish(opening + "".join(pieces))

    def _cataphor(self, template: str, parts: dict) -> Referent | None:
        """The agent "Before she leaves, the man…" may name late: the first agents of the first two parts
        mentioned are the same, and no other entity shares its pronoun."""
        names = mention_order(template)
        first, second = parts[names[0]][1][0].agent, parts[names[1]][1][0].agent
        referents = {id(r): r for part in self.draft.parts for cl in part for r in (cl.agent, cl.target) if r}
        if first is not second or first.gender == "c":
            return None
        return first if sum(r.gender == first.gender for r in referents.values()) == 1 else None

    def _finish(self, text: str) -> str:
        text = re.sub(r"\s+", " ", text).strip().rstrip(".")
        text = re.sub(r"\. (\w)", lambda m: ". " + m.group(1).upper(), text)
        lower = self.rng.random() < 0.25 and not text[:2].isupper()  # never "tV turns on"
        text = text[0].lower() + text[1:] if lower else text[0].upper() + text[1:]
        return text + "." if self.rng.random() < 0.8 else text

    # -- coordination ----------------------------------------------------------------------------------------
    def _coordinate(self, parts: list[tuple[Part, tuple[Clause, ...], tuple]]) -> str:
        joiner = parts[-1][0].joiner
        texts: list[str] = []
        previous: Referent | None = None
        for part, clauses, spans in parts:
            for clause, span in zip(clauses, spans):
                elide = joiner in ELLIPTIC and clause.agent is previous and self.rng.random() < 0.75
                texts.append(self._clause(clause, span, part, elide))
                previous = clause.agent
        return _join(joiner, texts, self.rng)

    # -- one clause ------------------------------------------------------------------------------------------
    def _clause(self, clause: Clause, span: tuple[int, int], part: Part, elide: bool) -> str:
        verb, agent, rng = clause.verb, clause.agent, self.rng
        plural = agent.noun.plural
        style = "present" if part.aspect and self.style == "progressive" else self.style
        subject = "" if elide else self._np(agent, subject=True)
        forms = verb.forms
        if part.aspect:
            aspect = verb_forms(part.aspect)
            head = [{"present": aspect.base if plural else aspect.third, "past": aspect.past}[style], forms.ing]
            form = forms.ing
        elif style == "present":
            form = forms.base if plural else forms.third
            head = [form]
        elif style == "past":
            form = forms.past
            head = [form]
        else:
            form = forms.ing
            head = [("are" if plural else "is") if style == "progressive" and not elide else "", form]
        adverb = clause.adverb
        if adverb == "slowly" and rng.random() < 0.4:
            head.insert(len(head) - 1, "slowly")
            adverb = ""
        words = [subject, *head, verb.tail]
        if clause.target is not None:
            obj = self._np(clause.target, subject=False, owner=agent)
            if verb.prep:
                words += [verb.prep, obj]
            elif verb.particle and (self._is_pronoun(obj) or rng.random() < 0.3):
                words += [obj, verb.particle]
            else:
                words += [verb.particle, obj]
        if clause.destination:
            words.append(self._phrase(clause.destination))
        if clause.scene is not None:
            words.append(self._scene(clause.scene))
        words += [adverb, "again" if clause.again else ""]
        self.told.append((clause, span, verb.predicate(form)))
        return " ".join(w for w in words if w)

    def _remention(self, part: tuple[Part, tuple[Clause, ...], tuple], how: str) -> str:
        """Part A's event named again: "she is still stirring", "it keeps following it", "he continues"."""
        (clause,) = part[1]
        verb, plural, past = clause.verb, clause.agent.noun.plural, self.style == "past"
        ing = " ".join(w for w in (verb.forms.ing, verb.tail) if w)
        if how == "ing":
            return ing
        subject = self._np(clause.agent, subject=True)
        be = ("were" if plural else "was") if past else ("are" if plural else "is")
        obj = ""
        if clause.target is not None and (how == "keeps" or (not verb.prep and not verb.particle and self.rng.random() < 0.4)):
            obj = "" if verb.particle else " ".join(w for w in (verb.prep, self._np(clause.target, subject=False)) if w)
        if how == "continues":
            forms = verb_forms("continue")
            return f"{subject} {forms.past if past else forms.base if plural else forms.third}"
        if how == "keeps":
            forms = verb_forms("keep")
            return f"{subject} {forms.past if past else forms.base if plural else forms.third} {ing} {obj}".strip()
        still = " still" if how == "still" else ""
        return f"{subject} {be}{still} {ing} {obj}".strip()

    # -- noun phrases ----------------------------------------------------------------------------------------
    def _np(self, ref: Referent, subject: bool, owner: Referent | None = None) -> str:
        """A referent as subject or object: a pronoun where unambiguous, else a noun phrase."""
        rng = self.rng
        pronouns = PRONOUNS.get(ref.gender)
        if ref is self.cataphor and id(ref) not in self.named and subject and pronouns:
            self._mention(ref, ref.gender)
            return pronouns[0]
        if id(ref) not in self.named:
            return self._introduce(ref, subject, owner)
        if pronouns and self._unambiguous(ref) and rng.random() < (0.6 if subject else 0.55):
            return pronouns[0 if subject else 1]
        if ref.noun.owned == "always" and owner is not None and owner.gender in PRONOUNS:
            return f"{PRONOUNS[owner.gender][2]} {ref.name}"
        name = ref.noun.name if ref.adjective and rng.random() < 0.3 else ref.name
        return self._bare(f"the {name}")

    def _introduce(self, ref: Referent, subject: bool, owner: Referent | None) -> str:
        rng, noun = self.rng, ref.noun
        name = f"{ref.size} {ref.name}".strip()
        possessor = self._possessor(ref, owner)
        if possessor is not None:
            determiner = PRONOUNS[possessor.gender][2]
        elif noun.article == "none":
            determiner = ""
        elif noun.article == "mass":
            determiner = "the" if subject else rng.choice(("the", "some", ""))
        elif noun.plural:
            numbers = ("two", "three", "some") if ref.animate else ("some",) if "pair" not in noun.kinds else ()
            determiner = rng.choice(("the", "", *numbers))
        else:
            determiner = article(name) if rng.random() < 0.55 else "the"
        if possessor is None:
            determiner = self._bare(determiner)
        text = " ".join(w for w in (determiner, name) if w)
        if ref.descriptor is not None:
            text += " " + ref.descriptor.text
        self.named.add(id(ref))
        self._mention(ref, ref.gender)
        return text

    def _possessor(self, ref: Referent, owner: Referent | None) -> Referent | None:
        """Whose ref is, if the text says so: the clause agent's keys, a mentioned person's daughter."""
        noun, rng = ref.noun, self.rng
        if owner is not None and owner.gender in PRONOUNS and owner is not ref:
            if noun.owned == "always" or (noun.owned == "may" and rng.random() < 0.45):
                return owner
        if noun.relational and rng.random() < 0.4:
            people = [r for r, _ in self.mentions if isinstance(r, Referent) and r is not ref
                      and "person" in r.noun.kinds and r.gender in PRONOUNS and self._unambiguous(r)]
            return rng.choice(people) if people else None
        return None

    def _bare(self, determiner_phrase: str) -> str:
        """Captions often drop articles ("woman putting bottle of water in bag")."""
        if self.style == "caption" and self.rng.random() < 0.6:
            return re.sub(r"^(the|a|an|some)( |$)", "", determiner_phrase)
        return determiner_phrase

    def _unambiguous(self, ref: Referent) -> bool:
        return all(entity is ref for entity, gender in self.mentions if gender == ref.gender)

    def _mention(self, entity: object, gender: str) -> None:
        if all(e is not entity for e, _ in self.mentions):
            self.mentions.append((entity, gender))

    def _is_pronoun(self, text: str) -> bool:
        return any(text == p[1] for p in PRONOUNS.values())

    def _scene(self, scene: Noun) -> str:
        return self._phrase(f"{scene.locative} the {scene.name}")

    def _phrase(self, phrase: str) -> str:
        """A prepositional phrase ("in the bag"); its noun is mentioned (it can make "it" ambiguous)."""
        words = phrase.split()
        self._mention(words[-1], "n")
        if self.style == "caption" and self.rng.random() < 0.6:
            words = [w for w in words if w not in ("the", "a", "an")]
        return " ".join(words)


def _join(joiner: str, texts: list[str], rng: random.Random) -> str:
    """Coordinate clauses in time order with a joiner's words."""
    if len(texts) == 1:
        return texts[0]
    *init, last = texts
    if joiner == "and":
        return f"{init[0]} and {last}" if not init[1:] else f"{', '.join(init)}{',' if rng.random() < 0.7 else ''} and {last}"
    if joiner == "caption":
        return f"{', '.join(init)} and {last}"
    if joiner == "then":
        return ", then ".join(texts)
    if joiner == "and_then":
        return f"{', '.join(init)}{',' if init[1:] or rng.random() < 0.5 else ''} and then {last}"
    if joiner == "after_that":
        return f"{', then '.join(init)}, and after that{',' if rng.random() < 0.3 else ''} {last}"
    if joiner == "first_next":
        middle = [f"next {t}" if i == 0 else f"then {t}" for i, t in enumerate(init[1:])]
        return ", ".join([f"first {init[0]}", *middle, f"{'and finally' if middle else 'then'} {last}"])
    if joiner == "finally":
        return f"{', '.join(init)}, and finally {last}"
    if joiner == "semicolon":
        return "; ".join([init[0], *(f"then {t}" for t in init[1:]), f"{'finally' if init[1:] else 'then'} {last}"])
    if joiner == "sentences":
        return ". ".join([init[0], *(f"then {t}" for t in init[1:]), f"{rng.choice(('then', 'after that,'))} {last}"])
    if joiner == "one_after_another":
        return f"{', '.join(init)}, and {last}, one after another"
    raise ValueError(f"unknown joiner {joiner!r}")
