"""Temporal constructions as data: how clauses are worded together and where each lands in time (issue 10).

A construction has *parts* listed in time order; each part is a run of clauses (``{A}`` in the template) and is
linked to the part before it:

- ``after``: it starts when the previous part ends (sequence; the first part starts at 0);
- ``same``: it shares the previous part's interval (concurrency: while, as, meanwhile, at the same time);
- ``within``: it runs inside the previous, single-clause part, from ``offset`` on (overlap: "while she is
  still stirring", "halfway through"); the host lasts ``offset + 2`` units or until the part ends;
- ``span``: the previous, single-clause part is a background state lasting until this part ends ("sits on a
  bench, reads a newspaper, folds it").

The template names parts in *mention* order, so "before {B}, {A}" mentions B first although A happens first.
``{A,B}`` realises two parts as one coordinated list; ``{A:still}``, ``{A:ing}``, ``{A:keeps}``, ``{A:prog}`` and
``{A:continues}`` re-mention part A's (single) event ("while he is still mowing").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Link = Literal["after", "same", "within", "span"]
Family = Literal["sequential", "reversed", "concurrent", "overlap"]
Style = Literal["present", "progressive", "past", "caption"]
STYLES: tuple[Style, ...] = ("present", "progressive", "past", "caption")
FAMILIES: tuple[Family, ...] = ("sequential", "reversed", "concurrent", "overlap")


@dataclass(frozen=True)
class Part:
    """A run of clauses realised together, and how it sits in time after the part before it."""

    name: str
    link: Link = "after"
    size: tuple[int, int] = (1, 1)  # fewest and most clauses
    joiner: str = "and"  # JOINERS key: how the clauses are coordinated
    durative: bool = False  # every clause must be able to last (concurrency, overlap hosts, backgrounds)
    aspect: str = ""  # "start" / "begin": "starts clapping" (the predicate is then "clapping")
    state: bool = False  # its clause must be a state kept up while doing other things ("sits on a bench")


@dataclass(frozen=True)
class Construction:
    """A named template variant with its parts in time order."""

    name: str
    family: Family
    template: str
    parts: tuple[Part, ...]
    agents: Literal["one", "many", "any"] = "any"  # one agent for all; a new agent per part; either
    unit: int = 2  # length of a concurrent interval
    offset: int = 1  # where a ``within`` part starts inside its host
    styles: tuple[Style, ...] = ("present", "progressive", "past")
    cataphora: bool = False  # the first-mentioned clause may say "she" before the agent is named

    @property
    def reversed(self) -> bool:
        """Whether the text mentions a later part before an earlier one."""
        order = mention_order(self.template)
        return order != sorted(order, key=[p.name for p in self.parts].index)


def mention_order(template: str) -> list[str]:
    """The part names of ``template`` in the order the text first mentions them."""
    names: list[str] = []
    for group in re.findall(r"\{([^}:]+)", template):
        for name in group.split(","):
            if name not in names:
                names.append(name)
    return names


def _seq(name: str, joiner: str, size: tuple[int, int] = (2, 4), **fields) -> Construction:
    return Construction(name, "sequential", "{A}", (Part("A", size=size, joiner=joiner),), **fields)


def _pair(name: str, family: Family, template: str, first: tuple[int, int], second: tuple[int, int], **fields) -> Construction:
    """Two parts in sequence: A happens before B, whatever the template's order."""
    return Construction(name, family, template, (Part("A", size=first), Part("B", size=second)),
                        styles=("present", "past"), **fields)  # not "after he is opening the door"


def _concurrent(name: str, template: str, unit: int = 2, **fields) -> Construction:
    durative = unit > 1  # "while" and "as" need events that can last; "at the same time" does not
    return Construction(name, "concurrent", template,
                        (Part("A", durative=durative), Part("B", link="same", durative=durative)), unit=unit, **fields)


def _overlap(name: str, template: str, inner: tuple[int, int] = (1, 2), offset: int = 1, **fields) -> Construction:
    return Construction(name, "overlap", template,
                        (Part("A", durative=True), Part("B", link="within", size=inner)), offset=offset, **fields)


CONSTRUCTIONS: tuple[Construction, ...] = (
    # sequence: mention order is time order
    _seq("seq.and", "and", styles=STYLES),
    _seq("seq.then", "then"),
    _seq("seq.and_then", "and_then"),
    _seq("seq.after_that", "after_that", (2, 3)),
    _seq("seq.first_next", "first_next", (2, 4)),
    _seq("seq.finally", "finally", (3, 5)),
    _seq("seq.semicolon", "semicolon", (2, 3)),
    _seq("seq.sentences", "sentences", (2, 3)),
    _seq("seq.one_after_another", "one_after_another", (3, 3), agents="many"),
    _seq("seq.caption", "caption", (2, 4), styles=("caption",)),
    _pair("seq.once", "sequential", "once {A}, {B}", (1, 1), (1, 2)),
    _pair("seq.after_fronted", "sequential", "after {A}, {B}", (1, 1), (1, 2)),
    _pair("seq.as_soon_as", "sequential", "as soon as {A}, {B}", (1, 1), (1, 2)),
    _pair("seq.before_final", "sequential", "{A} before {B}", (1, 2), (1, 1)),
    # reversed mention: the text tells a later event first
    _pair("rev.before", "reversed", "before {B}, {A}", (1, 3), (1, 1), cataphora=True),
    _pair("rev.after", "reversed", "{B} after {A}", (1, 3), (1, 2)),
    _pair("rev.once", "reversed", "{B} once {A}", (1, 2), (1, 1)),
    _pair("rev.but_first", "reversed", "{B}, but first {A}", (1, 2), (1, 2)),
    _pair("rev.as_soon_as", "reversed", "{B} as soon as {A}", (1, 1), (1, 1)),
    _pair("rev.before_that", "reversed", "{B}; before that, {A}", (1, 2), (1, 1)),
    _pair("rev.earlier", "reversed", "{B}. Earlier, {A}", (1, 2), (1, 1)),
    _pair("rev.only_after", "reversed", "{B} only after {A}", (1, 2), (1, 1)),
    _pair("rev.but_before_that", "reversed", "{B}, but before that {A}", (1, 2), (1, 1)),
    # concurrency: the same interval
    _concurrent("con.while", "{A} while {B}", styles=STYLES),
    _concurrent("con.while_fronted", "while {A}, {B}"),
    _concurrent("con.as", "{A} as {B}"),
    _concurrent("con.whilst", "{A} whilst {B}"),
    _concurrent("con.meanwhile", "{A}; meanwhile {B}"),
    _concurrent("con.meanwhile_sentences", "{A}. Meanwhile, {B}"),
    _concurrent("con.same_time", "{A} and, at the same time, {B}", unit=1),
    _concurrent("con.same_time_comma", "{A}, and at the same time {B}", unit=1),
    _concurrent("con.simultaneously", "{A}; simultaneously, {B}", unit=1),
    Construction("con.while_then", "concurrent", "{A} while {B}, and then {C}",
                 (Part("A", durative=True), Part("B", link="same", durative=True), Part("C", size=(1, 2)))),
    Construction("con.then_while", "concurrent", "{A}; then {B} while {C}",
                 (Part("A", size=(1, 2)), Part("B", durative=True), Part("C", link="same", durative=True))),
    Construction("con.background", "concurrent", "{A,B}",
                 (Part("A", durative=True, state=True), Part("B", link="span", size=(1, 3))), agents="one"),
    # overlap: one event runs inside another
    _overlap("ovl.still", "{A}; while {A:still}, {B}"),
    _overlap("ovl.and_still", "{A}, and while {A:still}, {B}"),
    _overlap("ovl.keeps", "{A}, and while {A:keeps}, {B}", inner=(1, 1)),
    _overlap("ovl.halfway", "{A}; halfway through, {B}", offset=2),
    _overlap("ovl.partway", "{A}; partway through, {B}"),
    _overlap("ovl.moment_later", "{A}, and a moment later, still {A:ing}, {B}", agents="one"),
    _overlap("ovl.comes_while", "{A}; {B} while {A:prog}", inner=(1, 1), agents="many"),
    _overlap("ovl.keeps_after", "{A}; after a moment {B}, and {A:keeps}", inner=(1, 1), agents="many"),
    Construction("ovl.starts", "overlap", "{A}, and {B} while {A:continues}",
                 (Part("A", durative=True, aspect="start"), Part("B", link="within", durative=True, aspect="begin")),
                 agents="many"),
    _overlap("ovl.background", "{A}; {B}", inner=(2, 2), agents="many"),
)


def stretchable(construction: Construction, index: int, size: int) -> bool:
    """Whether an adverb ("twice", "for a while") may lengthen a clause of part ``index`` to 2 units: not
    where the part's length is fixed by a concurrent or overlapping part."""
    parts = construction.parts
    part = parts[index]
    fixed = index + 1 < len(parts) and parts[index + 1].link in ("same", "within")
    return not fixed and (part.link == "after" or (part.link == "span" and size > 1))


def lengths(part: Part, durative: Sequence[bool], stretched: Sequence[bool]) -> list[int]:
    """The natural length of each clause of ``part``: 1 unit, 2 when stretched by an adverb; a lone clause
    inside a host lasts 2 when its verb can last ("she starts clapping" 1-3), and a lone clause beside a
    background state always does ("sits on the couch and plays video games": both 0-2)."""
    if part.link in ("within", "span") and len(durative) == 1:
        return [2 if durative[0] or part.link == "span" else 1]
    return [2 if s else 1 for s in stretched]


def schedule(construction: Construction, lengths: Sequence[Sequence[int]]) -> list[list[tuple[int, int]]]:
    """The ``(start, end)`` of every clause, part by part in time order, from each clause's natural length.

    Concurrent parts take ``unit``; the host of a ``within`` or ``span`` part is stretched over it.
    """
    times: list[list[tuple[int, int]]] = []
    cursor = 0
    for part, part_lengths in zip(construction.parts, lengths):
        if part.link == "after":
            times.append(_in_sequence(cursor, part_lengths))
        elif part.link == "same":
            start = times[-1][0][0]
            times[-1] = [(start, start + construction.unit)] * len(times[-1])
            times.append([(start, start + construction.unit)] * len(part_lengths))
        else:  # "within" or "span": the previous part is one lasting event around this one
            start = times[-1][0][0]
            inner = _in_sequence(start + (construction.offset if part.link == "within" else 0), part_lengths)
            host_end = max(inner[-1][1], start + construction.offset + 2) if part.link == "within" else inner[-1][1]
            times[-1] = [(start, host_end)]
            times.append(inner)
        cursor = max(stop for part_times in times for _, stop in part_times)
    return times


def _in_sequence(start: int, lengths: Sequence[int]) -> list[tuple[int, int]]:
    spans = []
    for length in lengths:
        spans.append((start, start + length))
        start += length
    return spans


def by_name() -> dict[str, Construction]:
    """Every construction by its name."""
    return {c.name: c for c in CONSTRUCTIONS}
