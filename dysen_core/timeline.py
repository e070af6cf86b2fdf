"""A DSG drawn as a timeline PNG: the plan's events as bars over time, and one column per scene graph.

Planned triplets (those of the Step II skeleton) are drawn in bold; triplets Step III imagined are grey.
"""

from __future__ import annotations

import io
import textwrap
from pathlib import Path

import numpy as np

from .datamodel import DynamicSceneGraph, SceneGraph
from .io import write_bytes_atomic

MAX_LINES = 14  # triplets listed per column before "… and N more"


def _lines(graph: SceneGraph, planned: SceneGraph | None) -> list[tuple[str, bool]]:
    known_rel = set(planned.relations) if planned else set()
    known_att = set(planned.attributes) if planned else set()
    lines = [(f"{s} —{p}→ {o}", (s, p, o) in known_rel) for s, p, o in graph.relations]
    lines += [(f"{o}: {a}", (o, a) in known_att) for o, a in graph.attributes]
    lines.sort(key=lambda item: not item[1])
    if len(lines) > MAX_LINES:
        lines = lines[: MAX_LINES - 1] + [(f"… and {len(lines) - MAX_LINES + 1} more", False)]
    return lines


def draw_timeline(dsg: DynamicSceneGraph, path: str | Path, skeleton: DynamicSceneGraph | None = None,
                  video: np.ndarray | None = None) -> Path:
    """Write ``dsg`` as a PNG at ``path``; ``skeleton`` (default: none) tells planned from imagined triplets.

    With ``video`` (uint8 (F, H, W, 3)) its frames are drawn above the plan on the same time axis: a contact
    sheet that shows whether each planned event happens when it should.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m_count = len(dsg.frames)
    events = dsg.plan.events if dsg.plan else []
    width = max(8.0, 2.4 * m_count)
    heights = [1.0 + 0.35 * len(events), 0.22 * MAX_LINES + 0.6]
    if video is not None:
        heights.insert(0, width * video.shape[1] / (video.shape[0] * video.shape[2]))  # frames keep their aspect
    fig, axes = plt.subplots(len(heights), 1, figsize=(width, 1.4 + sum(heights)), gridspec_kw={"height_ratios": heights})
    fig.suptitle("\n".join(textwrap.wrap(dsg.prompt, width=int(width * 11))), fontsize=10)
    if video is not None:
        strip, axes = axes[0], axes[1:]
        strip.imshow(np.concatenate(list(video), axis=1), extent=(0, m_count, 0, 1), aspect="auto", interpolation="nearest")
        strip.set_yticks([])
        strip.set_xticks([])
        strip.set_title(f"video ({len(video)} frames)", fontsize=9, loc="left")
    top, bottom = axes

    # 1. the plan: one bar per event over [start, end)
    colours = plt.get_cmap("tab10")
    for row, event in enumerate(events):
        label = " ".join(x for x in (event.agent, event.predicate, event.target) if x)
        top.barh(row, event.end - event.start, left=event.start, color=colours(row % 10), alpha=0.8)
        top.text(event.start + 0.05, row, label, va="center", fontsize=8)
    top.set_xlim(0, m_count)
    top.set_ylim(len(events) - 0.5, -0.5)
    top.set_yticks([])
    top.set_xticks(range(m_count + 1))
    top.set_xlabel("time (units v)")
    top.set_title("action plan (Step I)", fontsize=9, loc="left")

    # 2. the scene graphs: one column per time unit
    bottom.set_xlim(0, m_count)
    bottom.set_ylim(MAX_LINES + 1, 0)
    bottom.axis("off")
    bottom.set_title("scene graphs (bold: planned, grey: imagined)", fontsize=9, loc="left")
    for m, graph in enumerate(dsg.frames):
        bottom.axvline(m, color="0.85", lw=0.8)
        bottom.text(m + 0.05, 0.3, f"G{m + 1}", fontsize=8, weight="bold")
        planned = skeleton.frames[m] if skeleton is not None and m < len(skeleton.frames) else None
        for line, (text, is_planned) in enumerate(_lines(graph, planned), start=1):
            bottom.text(m + 0.05, line + 0.3, textwrap.shorten(text, 34), fontsize=7,
                        weight="bold" if is_planned or planned is None else "normal",
                        color="black" if is_planned or planned is None else "0.45")
    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=110)
    plt.close(fig)
    return write_bytes_atomic(path, image.getvalue())
