"""Temporal-discourse check after Step I: a plan's intervals must agree with the order its prompt's connectives fix.

A small planner often ignores "before" and "after" and lays events out in the order the prompt mentions them
(issue 10). This check reads that order from the prompt with a few fixed rules, no model, and re-times the plan
where it disagrees. It sits after any planner; ``SceneManager`` runs it when ``temporal_check.enabled`` is set.

1. Clauses. The prompt is split at punctuation, at "and", "but", "when", "until", "first" and at the connectives
   of ``FAMILIES``. A clause keeps the connective that opens it, and whether that connective opens a sentence or
   a coordinated clause ("Before X, Y", "…, and while X, Y": initial) or follows its main clause ("Y after X":
   medial). Prepositions are not connectives: "runs after it", "after a moment", "for a while", "next to".
2. Alignment. Each event goes to the clause that best holds its predicate (3 × the share of its words found, by
   stem), agent (1 ×; a clause naming no agent inherits the previous clause's, so pronouns refer back) and target
   (1 ×). A tie leaves the event unaligned. A "while" clause with no event of its own restates one ("while she is
   still vacuuming") and borrows it.
3. Constraints, between the events of clauses:
   - medial "Y before X" / "Y after X", "Y once X", "Y, but first X": the connective governs X and the clauses
     after it up to the end of the sentence, a ";" or a "then"; Y is the run of clauses before it (back to the
     sentence start, a ";" or a "then"). Initial "Before X, Y" / "After X, Y": X runs to the first comma, Y to
     the end of the sentence.
   - "X, then Y" (also "next", "finally", "after that", "afterwards"): the run of clauses before, before Y's
     clause and those joined to it without a comma.
   - "while", "as": overlap with the clause before (medial) or the clause after the comma (initial);
     "meanwhile", "at the same time": overlap with the clause before.
   An ordering constraint is broken when the later event does not start after the earlier one starts (so
   "adds the pasta once the water boils" may overlap the boiling); an overlap one when the intervals are disjoint.
4. Repair, only when a constraint is broken: events an overlap joins share a start; every ordering constraint,
   then every "before" relation of the plan that does not contradict them, becomes an edge; events keep their
   durations and are pushed later, in topological order, until every edge holds; idle time units are dropped.

Limits: English only; no parser, so clause roles come from word order and commas; aligning by words fails
when a predicate is paraphrased ("leaves" for "goes out"); "when", "until", "later" and plain "and" or comma
lists fix no order here, since the gold plans read them both ways.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from itertools import product
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .datamodel import MAX_TIME, ActionPlan, Event

Family = Literal["before", "after", "once", "as soon as", "but first", "then", "while", "as", "meanwhile"]
Relation = Literal["before", "overlap"]

# family -> (what it fixes, how it is spelled). "before": main clause first; "after": governed clause first;
# "then": the clauses before it first; "while": overlap (subordinate); "meanwhile": overlap with the clause before.
FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "before": ("before", ("before",)),
    "after": ("after", ("after",)),
    "once": ("after", ("once",)),
    "as soon as": ("after", ("as soon as",)),
    "but first": ("after", ("but first",)),
    "then": ("then", ("then", "next", "finally", "after that", "after this", "afterwards", "afterward")),
    "while": ("while", ("while", "whilst")),
    "as": ("while", ("as",)),
    "meanwhile": ("meanwhile", ("meanwhile", "at the same time", "simultaneously")),
}
_SEPARATORS = ("and", "but", "when", "until", "first")  # split clauses, fix no order
_PHRASES = sorted([(tuple(p.split()), f) for f, (_, spellings) in FAMILIES.items() for p in spellings]
                  + [((word,), None) for word in _SEPARATORS], key=lambda item: -len(item[0]))
_SUBORDINATORS = ("before", "after", "while")
_TOKEN = re.compile(r"[a-z0-9]+|[,;:.!?]")
_PUNCTUATION = frozenset(",;:.!?")
_WORD = re.compile(r"[a-z0-9]+")
_SENTENCE_END = frozenset(".!?")
_CLAUSE_END = frozenset([",", ";", ":", *_SENTENCE_END, "and", "but", "then"])
_OBJECTS = frozenset(["it", "them", "him", "her", "me", "us", "you"])
_TIME_WORDS = frozenset(["moment", "moments", "while", "second", "seconds", "minute", "minutes", "bit", "pause",
                         "time", "hour", "hours", "long", "short", "few", "several"])
_PAUSE_START = _TIME_WORDS | {"a", "an"}  # "after a moment", "before long"
_STOP = frozenset(["a", "an", "the", "is", "are", "was", "were", "be", "being", "been", "of"])


@dataclass(frozen=True)
class Constraint:
    """``first`` before ``second`` or the two overlap (event indices), as fixed by connective ``word``."""

    relation: Relation
    first: int
    second: int
    word: str

    def broken(self, events: list[Event]) -> bool:
        """Disjoint intervals for an overlap; for an order, the later event not starting after the earlier one
        starts (so "adds the pasta once the water boils" may overlap the boiling, as the gold plans do)."""
        a, b = events[self.first], events[self.second]
        if self.relation == "before":
            return a.start >= b.start
        return a.end <= b.start or b.end <= a.start


@dataclass
class _Clause:
    words: list[str]
    sentence: int
    family: str | None = None  # the connective that opens the clause
    word: str = ""  # that connective as written
    initial: bool = False  # it opens a sentence or a coordinated clause
    comma: bool = False  # a comma separates the clause from the previous one
    semicolon: bool = False
    stems: set[str] = field(default_factory=set)

    @property
    def kind(self) -> str | None:
        """What the opening connective fixes (``FAMILIES``), or ``None``."""
        return FAMILIES[self.family][0] if self.family else None


class TemporalCheck:
    """Checks a plan's intervals against the order its prompt's connectives fix, and repairs them."""

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

        enabled: bool = Field(default=False, description="Check and repair each plan after Step I (the paper has no such step).")
        connectives: list[Family] = Field(
            default_factory=lambda: list(FAMILIES),
            description="Connectives whose order is enforced ('then' covers next, finally, after that; 'meanwhile' "
            "covers at the same time); the others still split clauses.")

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()
        self._enforced = frozenset(self.options.connectives)

    def constraints(self, plan: ActionPlan) -> list[Constraint]:
        """The order the prompt's connectives fix between the plan's events."""
        clauses = _clauses(plan.prompt, _protected(plan.events))
        return _derive(clauses, _members(clauses, plan.events), self._enforced)

    def check(self, plan: ActionPlan, notes: list[str] | None = None) -> ActionPlan:
        """``plan``, re-timed where it breaks a constraint, with a line in ``notes`` per moved event; else ``plan`` itself."""
        constraints = self.constraints(plan)
        repaired = _repair(plan.events, constraints)
        if repaired is None:
            return plan
        events, broken = repaired
        if max(event.end for event in events) > MAX_TIME:
            if notes is not None:
                notes.append(f"temporal check: kept the plan: its repair needs more than {MAX_TIME} time units")
            return plan
        if notes is not None:
            notes += _notes(broken, plan.events)
        return ActionPlan(prompt=plan.prompt, events=sorted(events, key=lambda e: e.start))


# 1. Clauses ------------------------------------------------------------------------------------------------------


def _clauses(prompt: str, protected: frozenset[tuple[str, str]]) -> list[_Clause]:
    """The prompt's clauses, each with the connective that opens it."""
    tokens = _TOKEN.findall(prompt.lower())
    clauses: list[_Clause] = []
    sentence, opening = 0, True  # opening: a connective here opens a clause rather than following one
    current = _Clause([], sentence)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        hit = None if token in _PUNCTUATION else _connective(tokens, i, protected)
        if (hit is not None or token in _PUNCTUATION) and current.words:
            clauses.append(current)
            current, opening = _Clause([], sentence), False
        if token in _SENTENCE_END:
            sentence += 1
            current, opening = _Clause([], sentence), True
        elif token in ",:":
            current.comma = True
        elif token == ";":
            current.semicolon = opening = True
        elif hit is not None:
            family, length = hit
            if family is None:
                opening = True
            else:
                current.family, current.word, current.initial = family, " ".join(tokens[i : i + length]), opening
            i += length - 1
        else:
            current.words.append(token)
        i += 1
    if current.words:
        clauses.append(current)
    for clause in clauses:
        clause.stems = {_stem(word) for word in clause.words}
    return clauses


def _connective(tokens: list[str], i: int, protected: frozenset[tuple[str, str]]) -> tuple[str | None, int] | None:
    """``(family, length)`` of the connective at ``tokens[i]`` (family ``None``: a separator), or ``None``."""
    for words, family in _PHRASES:
        if tuple(tokens[i : i + len(words)]) != words:
            continue
        if len(words) > 1:
            return family, len(words)
        word = tokens[i]
        before = tokens[i - 1] if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        then = tokens[i + 2] if i + 2 < len(tokens) else "."
        if (before, word) in protected:  # "runs after" is the plan's own predicate
            return None
        if word in ("after", "before") and after in _PAUSE_START and _TIME_WORDS & set(tokens[i + 1 : i + 4]):
            return None, 1  # a pause, not an order
        if word in ("after", "before", "once") and after in _OBJECTS and then in _CLAUSE_END:
            return None  # "runs after it"
        if (word == "as" and (after in {"a", "an", "well", "if", "though", "usual", "much", "many", "long", "far"}
                              or before in {"such", "same", "so", "as"})
                or word == "while" and before in {"a", "the", "for", "little", "short", "whole"}
                or word == "next" and after == "to"
                or word == "once" and after in {"more", "again", "upon"}):
            return None
        return family, 1
    return None


def _protected(events: list[Event]) -> frozenset[tuple[str, str]]:
    """Adjacent words of the plan's predicates: "after" in "runs after" belongs to the predicate, not the discourse."""
    pairs = set()
    for event in events:
        words = _WORD.findall(event.predicate.lower())
        pairs.update(zip(words, words[1:]))
    return frozenset(pairs)


# 2. Alignment ----------------------------------------------------------------------------------------------------


def _stem(word: str) -> str:
    """A crude stem that puts "moves", "moving" and "move", or "runs" and "running", together."""
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word


def _share(phrase: str | None, stems: set[str]) -> float:
    """The share of ``phrase``'s content words whose stem is among ``stems`` (or extends one of 4+ letters)."""
    words = [_stem(w) for w in _WORD.findall((phrase or "").lower()) if w not in _STOP]
    found = sum(any(w == s or min(len(w), len(s)) >= 4 and (w.startswith(s) or s.startswith(w)) for s in stems)
                for w in words)
    return found / len(words) if words else 0.0


def _members(clauses: list[_Clause], events: list[Event]) -> list[list[int]]:
    """For each clause, the events aligned to it; a "while" clause with none restates the events it fits best."""
    subjects: list[set[str]] = []  # stems a clause's agent may come from: its own, or the previous clause's
    for clause in clauses:
        names_agent = any(_share(event.agent, clause.stems) > 0 for event in events)
        subjects.append(clause.stems if names_agent or not subjects else clause.stems | subjects[-1])
    scores = [[_score(event, clause, subject) for clause, subject in zip(clauses, subjects)] for event in events]
    own: list[list[int]] = [[] for _ in clauses]
    for e, row in enumerate(scores):
        best = max(row, default=0.0)
        if best > 0 and row.count(best) == 1:
            own[row.index(best)].append(e)
    for c, members in enumerate(own):
        column = [row[c] for row in scores]
        if not members and clauses[c].kind == "while" and max(column, default=0.0) > 0:
            members += [e for e, score in enumerate(column) if score == max(column)]
    return own


def _score(event: Event, clause: _Clause, subject: set[str]) -> float:
    predicate = _share(event.predicate, clause.stems)
    if predicate == 0:
        return 0.0
    return 3 * predicate + _share(event.agent, subject) + _share(event.target, clause.stems)


# 3. Constraints --------------------------------------------------------------------------------------------------


def _derive(clauses: list[_Clause], members: list[list[int]], enforced: frozenset[str]) -> list[Constraint]:
    """The constraints the clauses' connectives fix between their events."""
    n = len(clauses)
    first = [i == 0 or c.sentence != clauses[i - 1].sentence or c.semicolon for i, c in enumerate(clauses)]
    part_start = [max(k for k in range(i + 1) if first[k]) for i in range(n)]
    part_end = [next((k for k in range(i + 1, n) if first[k]), n) for i in range(n)]
    kinds = [c.kind for c in clauses]
    split = {}  # initial subordinate clause -> the main clause after its comma ("Before X, Y")
    for i, c in enumerate(clauses):
        if kinds[i] in _SUBORDINATORS and c.initial:
            j = next((k for k in range(i + 1, part_end[i]) if clauses[k].comma), None)
            if j is not None:
                split[i] = j
    starts = {i for i in range(n) if first[i] or kinds[i] in ("before", "after", "then")} | set(split) | set(split.values())

    def run(i: int) -> range:
        """The run of clauses that ends at clause ``i`` (from a sentence, a ';', a 'then' or a subordinate clause)."""
        return range(max(k for k in starts if k <= i), i + 1) if i >= 0 else range(0)

    def events(span: range) -> list[int]:
        return [e for k in span for e in members[k]]

    def nearest(span: range) -> list[int]:
        return next((members[k] for k in span if members[k]), [])

    found: list[Constraint] = []
    for i, clause in enumerate(clauses):
        kind, j = kinds[i], split.get(i)
        if kind is None or clause.family not in enforced or not members[i]:
            continue  # a connective whose own clause holds no event reads as a preposition here
        main = run(i - 1) if i > part_start[i] else range(0)  # "Y after X": Y
        rest = range(i, next((k for k in range(i + 1, part_end[i]) if kinds[k] == "then"), part_end[i]))  # X, up to a "then"
        if kind == "before":
            pairs = product(events(range(j, part_end[i])), events(range(i, j))) if j is not None else product(events(main), events(rest))
        elif kind == "after":
            pairs = product(events(range(i, j)), events(range(j, part_end[i]))) if j is not None else product(events(rest), events(main))
        elif kind == "then":  # the run before, before "then"'s clause and those joined to it without a comma
            stop = next((k for k in range(i + 1, n) if k in starts or clauses[k].comma), n)
            pairs = product(events(run(i - 1)), events(range(i, stop)))
        elif kind == "while" and j is not None:
            pairs = product(events(range(i, j)), nearest(range(j, part_end[i])))
        elif kind == "while":
            pairs = product(members[i], nearest(range(i - 1, part_start[i] - 1, -1)))
        else:  # meanwhile
            pairs = product(members[i], nearest(range(i - 1, -1, -1)))
        relation = "overlap" if kind in ("while", "meanwhile") else "before"
        found += [Constraint(relation, a, b, clause.word) for a, b in pairs if a != b]
    return list(dict.fromkeys(found))


# 4. Repair -------------------------------------------------------------------------------------------------------


def _repair(events: list[Event], constraints: list[Constraint]) -> tuple[list[Event], list[Constraint]] | None:
    """The events re-timed so that every consistent constraint holds, and the constraints that were broken;
    ``None`` when none was."""
    n = len(events)
    group = list(range(n))  # union-find: events an overlap joins share a start

    def root(e: int) -> int:
        while group[e] != e:
            group[e] = group[group[e]]
            e = group[e]
        return e

    kept = [c for c in constraints if c.relation == "overlap"]
    for c in kept:
        group[root(c.first)] = root(c.second)
    reach = [0] * n  # bit g of reach[r]: group g is after group r
    edges: list[tuple[int, int]] = []

    def add(u: int, v: int) -> bool:
        ru, rv = root(u), root(v)
        if ru == rv or reach[rv] >> ru & 1:
            return False  # joined by an overlap, or it would close a cycle
        edges.append((u, v))
        for r in range(n):
            if r == ru or reach[r] >> ru & 1:
                reach[r] |= reach[rv] | 1 << rv
        return True

    kept += [c for c in constraints if c.relation == "before" and add(c.first, c.second)]
    broken = [c for c in kept if c.broken(events)]
    if not broken:
        return None
    for u, v in sorted(((u, v) for u in range(n) for v in range(n) if events[u].end <= events[v].start),
                       key=lambda pair: (events[pair[0]].start, events[pair[1]].start)):
        add(u, v)  # the plan's own order, where the constraints allow it
    start: dict[int, int] = {}
    for e, event in enumerate(events):
        start[root(e)] = min(start.get(root(e), event.start), event.start)
    waiting = dict.fromkeys(start, 0)
    after: dict[int, list[tuple[int, int]]] = {r: [] for r in start}
    for u, v in edges:
        waiting[root(v)] += 1
        after[root(u)].append((events[u].end - events[u].start, root(v)))
    ready = [(start[r], r) for r, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    while ready:  # in topological order, push each group as late as its predecessors need
        _, r = heapq.heappop(ready)
        for duration, later in after[r]:
            start[later] = max(start[later], start[r] + duration)
            waiting[later] -= 1
            if waiting[later] == 0:
                heapq.heappush(ready, (start[later], later))
    moved = [(start[root(e)], start[root(e)] + event.end - event.start) for e, event in enumerate(events)]
    return [event.model_copy(update=dict(zip(("start", "end"), span))) for event, span in zip(events, _compact(moved))], broken


def _compact(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``spans`` with the time units no span covers removed (relations and durations unchanged)."""
    idle, reached, shift = 0, 0, {}
    for s, e in sorted(spans):
        idle += max(0, s - reached)
        reached = max(reached, e)
        shift[s] = idle
    return [(s - shift[s], e - shift[s]) for s, e in spans]


def _label(event: Event) -> str:
    return f"{event.predicate} {event.target}" if event.target else f"{event.agent} {event.predicate}"


def _notes(broken: list[Constraint], events: list[Event]) -> list[str]:
    """One line per moved event and connective, e.g. "moved 'locks door' after 'turns off lights', 'grabs keys' ('after')"."""
    moved: dict[tuple[int, str], list[str]] = {}
    lines = []
    for c in broken:
        a, b = _label(events[c.first]), _label(events[c.second])
        if c.relation == "overlap":
            lines.append(f"temporal check: made '{a}' and '{b}' overlap ('{c.word}')")
        else:
            moved.setdefault((c.second, c.word), []).append(f"'{a}'")
    lines += [f"temporal check: moved '{_label(events[b])}' after {', '.join(a)} ('{word}')" for (b, word), a in moved.items()]
    return list(dict.fromkeys(lines))  # duplicate events give duplicate lines
