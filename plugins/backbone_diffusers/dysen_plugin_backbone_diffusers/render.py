"""A DSG as text a pipeline's own text encoder can read: one sentence per scene graph, and each frame's pick.

A text-to-video pipeline was trained on captions, not graphs, so each scene graph G_m becomes a caption:
the prompt (which keeps the style words the plan drops), then the graph's relations as "subject predicate
object", its attributes as "object attribute" and any object named nowhere else. Frame f reads scene graph
m = floor(f·M/F), the native backbone's rule (DESIGN.md decision 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from dysen_core.datamodel import DynamicSceneGraph, SceneGraph, frame_to_sg


def graph_sentence(graph: SceneGraph) -> str:
    """``graph`` as a comma-separated caption: relations, then attributes, then objects not yet named."""
    named = {name for s, _, o in graph.relations for name in (s, o)} | {o for o, _ in graph.attributes}
    clauses = [f"{s} {p} {o}" for s, p, o in graph.relations]
    clauses += [f"{o} {a}" for o, a in graph.attributes]
    clauses += [o for o in graph.objects if o not in named]
    return ", ".join(clauses)


@dataclass(frozen=True)
class FrameTexts:
    """The distinct captions of one video and, for each of its F frames, the index of the caption it reads."""

    texts: list[str]
    frame_text: list[int]


def frame_texts(prompt: str, dsg: DynamicSceneGraph | None, frames: int, *, include_prompt: bool = True) -> FrameTexts:
    """Captions of ``dsg``'s scene graphs for a video of ``frames`` frames; a ``None`` DSG gives the prompt alone.

    Equal captions are merged, so frames of one DSG segment share one caption (and one text-encoder pass).
    """
    if dsg is None:
        return FrameTexts([prompt], [0] * frames)
    captions = [_caption(prompt, graph_sentence(g), include_prompt) for g in dsg.frames]
    texts = list(dict.fromkeys(captions))
    index = {text: i for i, text in enumerate(texts)}
    return FrameTexts(texts, [index[captions[m]] for m in frame_to_sg(frames, len(dsg.frames))])


def _caption(prompt: str, scene: str, include_prompt: bool) -> str:
    if not scene:
        return prompt
    return f"{prompt}; {scene}" if include_prompt else scene
