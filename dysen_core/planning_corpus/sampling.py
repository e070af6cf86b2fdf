"""Drawing a sentence's content: who does what to whom, in which construction and when (issue 10).

A ``Draft`` is everything a sentence says, before wording: its construction, its clauses part by part, their
times, the tense style and an optional scene ("in the kitchen"). ``Sampler.draft`` draws one from a lexicon
view and returns None when the draw breaks a rule (an agent acting after it left, a shape turning the colour
it already has); the caller draws again.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from ..shapes.vocabulary import CHANNEL, SIZES, Action, action_of
from ..skeleton import REMOVING_VERBS
from .constructions import Construction, Part, Style, lengths, schedule, stretchable
from .lexicon import Descriptor, Gender, Lexicon, Noun, Verb

Domain = Literal["everyday", "shapes"]
SHAPES_SHARE = 0.2  # share of sentences about dynamic shapes
MAX_CLAUSES = 5
STYLE_WEIGHTS: dict[Style, float] = {"present": 0.62, "progressive": 0.14, "past": 0.12, "caption": 0.12}
AGENT_GROUPS: tuple[tuple[str, float], ...] = (
    ("person", 0.55), ("people", 0.08), ("crowd", 0.03), ("animal", 0.2), ("vehicle", 0.05), ("thing", 0.09))
"""Which kind of agent a new agent is, by weight."""
SCENE_AGENTS = frozenset({"person", "crowd", "pet"})
PORTABLE = frozenset({"holdable", "food", "drink", "document", "instrument", "clothing", "body", "music", "audio",
                      "person", "pet", "ball", "game", "device", "container", "stackable", "artwork", "cookable"})
"""Kinds of agent and target that fit any scene ("in the kitchen, a woman reads a letter")."""
REUSE_SHARE = 0.3  # share of clauses that act on an entity already in the sentence when some verb can
REPEATED = ("twice", "three times", "repeatedly", "again and again")
LASTING = ("for a while", "for a few seconds")
_REMOVING_STEMS = tuple(verb.removesuffix("e") for verb in REMOVING_VERBS)


@dataclass(frozen=True, eq=False)
class Referent:
    """One entity of a sentence (compared by identity): its noun and what the text says about it."""

    noun: Noun
    gender: Gender
    adjective: str = ""  # part of the gold name ("old man")
    size: str = ""  # a shape's size word: said ("a small red square"), not part of the name
    descriptor: Descriptor | None = None  # said after the noun ("a man in a suit"), not part of the name

    @property
    def name(self) -> str:
        return f"{self.adjective} {self.noun.name}".strip()

    @property
    def animate(self) -> bool:
        return bool(self.noun.kinds & {"person", "animal", "crowd", "animals"})


@dataclass(frozen=True)
class Clause:
    """One event as the text tells it."""

    agent: Referent
    verb: Verb
    target: Referent | None = None
    adverb: str = ""  # "twice", "for a while": the event lasts 2 units
    again: bool = False  # repeats an earlier event of the same part
    destination: str = ""  # "in the bag": said after the target, not in the plan
    scene: Noun | None = None  # "plays basketball in the park": said, not in the plan


@dataclass(frozen=True)
class Draft:
    """A sentence's content, part by part in time order (as ``construction.parts``)."""

    construction: Construction
    parts: tuple[tuple[Clause, ...], ...]
    times: tuple[tuple[tuple[int, int], ...], ...]
    style: Style
    domain: Domain
    scene: Noun | None = None  # sentence-initial "In the kitchen, ..."

    def uses(self) -> set[str]:
        """Keys of every construction and lexicon entry it uses (to keep held-out ones out of train)."""
        keys = {f"construction:{self.construction.name}"}
        for clause in (c for part in self.parts for c in part):
            keys.add(clause.verb.key)
            for ref in (clause.agent, clause.target):
                if ref is not None:
                    keys.add(ref.noun.key)
                    if ref.descriptor is not None:
                        keys.update((ref.descriptor.key, f"noun:{ref.descriptor.item}"))
            if clause.scene is not None:
                keys.add(clause.scene.key)
            if clause.destination:
                keys.add(f"noun:{destination_noun(clause.destination)}")
        if self.scene is not None:
            keys.add(self.scene.key)
        return keys


def destination_noun(phrase: str) -> str:
    """The place a destination phrase names ("on the shelf" → shelf)."""
    return phrase.split(" ", 2)[-1]


def removes(verb: Verb) -> bool:
    """Whether Step II drops the verb's agent from the scene once the event ends (``skeleton.REMOVING_VERBS``)."""
    return verb.lemma.startswith(_REMOVING_STEMS)


def agent_group(noun: Noun) -> str:
    """The ``AGENT_GROUPS`` entry of a noun that can act."""
    for group in ("people", "crowd", "person", "vehicle"):
        if group in noun.kinds:
            return group
    return "animal" if noun.kinds & {"animal", "animals"} else "thing"


class Sampler:
    """Draws drafts from one lexicon view and a list of constructions."""

    def __init__(self, lexicon: Lexicon, constructions: Sequence[Construction]):
        self.lexicon = lexicon
        self.constructions = tuple(constructions)
        self.agents: dict[tuple[Domain, str], tuple[Noun, ...]] = {}
        for noun in lexicon.agents:
            domain: Domain = "shapes" if "shape" in noun.kinds else "everyday"
            group = "shape" if domain == "shapes" else agent_group(noun)
            self.agents.setdefault((domain, group), ())
            self.agents[(domain, group)] += (noun,)

    def draft(self, rng: random.Random, construction: Construction | None = None) -> Draft | None:
        """One draft, or None when this draw breaks a rule."""
        c = construction or rng.choice(self.constructions)
        domain: Domain = "shapes" if rng.random() < SHAPES_SHARE and ("shapes", "shape") in self.agents else "everyday"
        sizes = [rng.randint(*part.size) for part in c.parts]
        while sum(sizes) > MAX_CLAUSES:
            i = max(range(len(sizes)), key=lambda k: sizes[k] - c.parts[k].size[0])
            sizes[i] -= 1
        slots = [(i, j) for i, n in enumerate(sizes) for j in range(n)]  # clause positions in time order
        owners = self._owners(c, len(slots), rng)
        state = _DraftState(self, domain, rng)
        agents = [state.new_agent() for _ in range(max(owners) + 1)]
        if None in agents:
            return None
        clauses: list[list[Clause]] = [[] for _ in sizes]
        for (i, j), owner in zip(slots, owners):
            part = c.parts[i]
            beside = clauses[i - 1][0] if part.link != "after" else None
            clause = state.clause(agents[owner], part, clauses[i][j - 2] if j >= 2 else None, beside,
                                  stretchable(c, i, sizes[i]))
            if clause is None:
                return None
            clauses[i].append(clause)
        natural = [lengths(part, [cl.verb.durative for cl in cls], [bool(cl.adverb) for cl in cls])
                   for part, cls in zip(c.parts, clauses)]
        times = schedule(c, natural)
        draft = Draft(construction=c, parts=tuple(tuple(cls) for cls in clauses),
                      times=tuple(tuple(ts) for ts in times), style=_style(c, rng), domain=domain)
        if not _coherent(draft):
            return None
        return state.with_scene(draft)

    @staticmethod
    def _owners(c: Construction, n: int, rng: random.Random) -> list[int]:
        """Which agent does each clause (in time order), numbered by first appearance."""
        if c.agents == "one":
            return [0] * n
        most = min(3, n)
        count = 1 if c.agents == "any" and rng.random() < 0.4 else rng.randint(min(2, most), most)
        owners = [0]
        for _ in range(n - 1):
            previous = owners[-1]
            if c.agents == "any" and (count == 1 or rng.random() < 0.5):
                owners.append(previous)
                continue
            unused = [a for a in range(count) if a not in owners]
            others = unused or [a for a in range(count) if a != previous]
            owners.append(others[0] if unused else rng.choice(others))
        return owners


def _style(c: Construction, rng: random.Random) -> Style:
    styles = list(c.styles)
    return rng.choices(styles, weights=[STYLE_WEIGHTS[s] for s in styles])[0]


class _DraftState:
    """The referents and clauses drawn so far for one draft."""

    def __init__(self, sampler: Sampler, domain: Domain, rng: random.Random):
        self.sampler = sampler
        self.lexicon = sampler.lexicon
        self.domain = domain
        self.rng = rng
        self.referents: list[Referent] = []
        self.taken: set[str] = set()  # noun names in use: one entity per noun, so names and heads never clash
        self.done: set[tuple[int, str]] = set()  # (agent, verb key) already used

    def _in_domain(self, noun: Noun) -> bool:
        return ("shape" in noun.kinds) == (self.domain == "shapes")

    def _free(self, noun: Noun) -> bool:
        return noun.name not in self.taken

    def new_agent(self) -> Referent | None:
        """A new acting entity of the draft's domain, or None if its group has no unused noun left."""
        if self.domain == "shapes":
            pool = self.sampler.agents[("shapes", "shape")]
        else:
            groups = [(g, w) for g, w in AGENT_GROUPS if self.sampler.agents.get(("everyday", g))]
            group = self.rng.choices([g for g, _ in groups], weights=[w for _, w in groups])[0]
            pool = self.sampler.agents[("everyday", group)]
        free = [n for n in pool if self._free(n)]
        return self._referent(self.rng.choice(free), agent=True) if free else None

    def _referent(self, noun: Noun, agent: bool = False) -> Referent:
        rng = self.rng
        descriptors = [d for d in self.lexicon.descriptors if d.kinds & noun.kinds]
        ref = Referent(
            noun=noun,
            gender=rng.choice(noun.genders),
            adjective=rng.choice(noun.adjectives) if noun.adjectives and rng.random() < 0.3 else "",
            size=rng.choice(SIZES) if "shape" in noun.kinds and rng.random() < 0.25 else "",
            descriptor=rng.choice(descriptors) if agent and descriptors and not noun.plural and rng.random() < 0.1 else None,
        )
        self.referents.append(ref)
        self.taken.update((noun.name, ref.name))
        return ref

    def clause(self, agent: Referent, part: Part, earlier: Clause | None, beside: Clause | None,
               stretch: bool) -> Clause | None:
        """A clause of ``part`` for ``agent``: a repeat of ``earlier`` ("again"), or a new verb and target.

        ``beside`` is a clause it runs alongside; one agent does two things at once only if they go together
        (``Verb.goes_with``).
        """
        rng = self.rng
        if earlier is not None and earlier.agent is agent and not part.durative and rng.random() < 0.1 \
                and not removes(earlier.verb) and earlier.verb.lemma != "appear":
            return Clause(agent=agent, verb=earlier.verb, target=earlier.target, again=True,
                          destination=earlier.destination)
        verbs = [v for v in self.lexicon.verbs_for(agent.noun)
                 if (v.durative or not part.durative) and (v.background or v.posture or not part.state)
                 and (id(agent), v.key) not in self.done]
        if beside is not None and beside.agent is agent:
            verbs = [v for v in verbs if v.goes_with(beside.verb)]
        reuse = False
        if rng.random() < REUSE_SHARE:  # act on an entity already there: "picks up the ball, throws it"
            kinds = frozenset().union(*(r.noun.kinds for r in self.referents if r is not agent))
            chained = [v for v in verbs if v.objects & kinds]
            verbs, reuse = (chained, True) if chained else (verbs, False)
        transitive_first = rng.random() < 0.65
        for verb in sorted(rng.sample(verbs, min(12, len(verbs))), key=lambda v: v.transitive != transitive_first):
            target = self._target(agent, verb, reuse) if verb.transitive else None
            places = [d for d in verb.destinations if destination_noun(d) in self.lexicon.names
                      and destination_noun(d) not in {r.name for r in self.referents}]
            if (verb.transitive and target is None) or (verb.destinations and not places):
                continue  # "puts the cup" needs somewhere to put it
            self.done.add((id(agent), verb.key))
            adverb = ""
            if stretch and rng.random() < 0.12:
                options = (REPEATED if verb.repeatable else ()) + (LASTING if verb.durative else ()) + (
                    ("slowly",) if verb.moving else ())
                adverb = rng.choice(options) if options else ""
            destination = rng.choice(places) if places else ""
            return Clause(agent=agent, verb=verb, target=target, adverb=adverb, destination=destination)
        return None

    def _target(self, agent: Referent, verb: Verb, reuse: bool) -> Referent | None:
        """An entity already in the sentence (always when ``reuse``, often otherwise) or a new one."""
        rng = self.rng
        known = [r for r in self.referents if r is not agent and r.noun.kinds & verb.objects]
        if known and (reuse or rng.random() < (0.7 if any(r.animate for r in known) else 0.45)):
            return rng.choice(known)
        nouns = [n for n in self.lexicon.nouns_for(verb.objects) if self._in_domain(n) and self._free(n)
                 and (n.owned != "always" or agent.gender != "c")]
        if not nouns:
            return rng.choice(known) if known else None
        return self._referent(rng.choice(nouns))

    def with_scene(self, draft: Draft) -> Draft:
        """Maybe add a scene: sentence-initial ("In the park, ...") or after one clause's direct object.

        Only where any scene fits: people and pets handling things they can take anywhere, nobody moving
        between places.
        """
        rng = self.rng
        clauses = [c for part in draft.parts for c in part]
        moves = any(e.slot == "place" for c in clauses for e in (*c.verb.post, *c.verb.ends))
        fits = all(c.agent.noun.kinds & SCENE_AGENTS and (c.target is None or c.target.noun.kinds & PORTABLE)
                   for c in clauses)
        if draft.domain == "shapes" or moves or not fits or rng.random() > 0.35:
            return draft
        names = {r.name for r in self.referents} | {destination_noun(c.destination) for c in clauses}
        scenes = [n for n in self.lexicon.scenes if n.name not in names]
        if not scenes:
            return draft
        scene = rng.choice(scenes)
        direct = [c for c in clauses if c.target is not None and not c.verb.prep and not c.verb.particle
                  and not c.destination and not c.again]
        if direct and rng.random() < 0.4:
            chosen = rng.choice(direct)
            parts = tuple(tuple(replace(c, scene=scene) if c is chosen else c for c in part) for part in draft.parts)
            return replace(draft, parts=parts)
        return replace(draft, scene=scene)


def _coherent(draft: Draft) -> bool:
    """The time rules a draw must keep: nothing involves an entity after it leaves or before it appears,
    one agent never repeats an event at overlapping times, a shape runs one action per channel at a time
    (``vocabulary.CHANNEL``) and never turns the colour it has."""
    events = [(clause, span) for part, spans in zip(draft.parts, draft.times) for clause, span in zip(part, spans)]
    for clause, (start, end) in events:
        involved = [(c, s) for c, s in events if c is not clause and clause.agent in (c.agent, c.target)]
        if removes(clause.verb) and any(s[0] >= start or s[1] > end for _, s in involved):
            return False
        if clause.verb.lemma == "appear" and any(s[0] < start for _, s in involved):
            return False
        for other, (s2, e2) in events:
            if other is clause or s2 >= end or start >= e2 or other.agent is not clause.agent:
                continue
            if (other.verb.key, other.target) == (clause.verb.key, clause.target):
                return False
            if draft.domain == "shapes" and CHANNEL[_action(other.verb)] == CHANNEL[_action(clause.verb)]:
                return False
    if draft.domain == "shapes":
        colours = {id(c.agent): c.agent.noun.name.split()[0] for c, _ in events}
        for clause, _ in sorted(events, key=lambda e: e[1]):
            if clause.verb.lemma == "turn":
                if colours[id(clause.agent)] == clause.verb.tail:
                    return False
                colours[id(clause.agent)] = clause.verb.tail
    return True


def _action(verb: Verb) -> Action:
    return action_of(verb.predicate(verb.forms.third))
