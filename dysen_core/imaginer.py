"""Step III, scene imagination with in-context learning (paper §4.1, App. A.3, Figs. 13–14).

Round one enriches each distinct segment of the skeleton with the sliding window [G_{m-1} enriched, Ḡ_m,
Ḡ_{m+1}] (DESIGN.md decision 2: once per segment, not per frame); its answer overwrites the segment's scene
graph. Round two polishes the whole DSG in one call. A segment whose answer stays invalid keeps its skeleton
graph, and a failed polish keeps round one's result; each fallback is noted with its reason. With
``keep_planned`` the planned triplets of each segment survive whatever the LLM answers (a small local model
often drops them, and the video model would then never see the plan).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from .answers import extract_json, parse_polish, parse_scene_graph
from .datamodel import DynamicSceneGraph, SceneGraph
from .demos import POOLS_DIR, ImaginationDemo, PolishDemo, load_pool
from .errors import PlanParseError
from .icl import ask, pick_demos, require_llm
from .prompts import MAX_ANSWER_ITEMS, TemplateSet, imagination_messages, polish_messages, polish_schema, scene_graph_schema
from .selectors import FixedSelector


class ICLImaginer:
    """Enriches a skeleton DSG segment by segment, then polishes it as a whole."""

    name = "icl"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

        num_demos: int = Field(default=5, ge=0, le=16, description="Demonstrations per imagination call (paper: D = 5).")
        polish_demos: int = Field(default=5, ge=0, le=16, description="Demonstrations for the polishment (paper: D = 5).")
        sliding_window: bool = Field(default=True, description="Show the previous and next SGs (Table 4: SWC).")
        polish: bool = Field(default=True, description="Run the global polishment round.")
        imagination_pool: Path | None = Field(default=None, description="Imagination demos (JSONL); unset: shipped.")
        polish_pool: Path | None = Field(default=None, description="Polishment demos (JSONL); unset: shipped.")
        max_repairs: int = Field(default=1, ge=0, le=5, description="Re-asks with the error after an invalid answer.")
        templates: TemplateSet = "icl"
        max_items: int = Field(
            default=MAX_ANSWER_ITEMS, ge=1, le=MAX_ANSWER_ITEMS,
            description="Most objects, attributes or relations an imagined SG may list (the shipped demonstrations use at most 8).",
        )
        polish_slack: int = Field(
            default=2, ge=0, le=MAX_ANSWER_ITEMS,
            description="Items a polished SG's lists may have beyond the longest list given (the shipped demonstrations add at most 2).",
        )
        keep_planned: bool = Field(
            default=False,
            description="Keep each segment's planned triplets in its enriched graph; false: the answer overwrites "
            "the graph, as in the paper (App. A.3).",
        )

    def __init__(self, options: Options | None = None, llm=None, demo_selector=None):
        self.options = options or self.Options()
        self.llm = require_llm(llm, "imaginer")
        self.selector = demo_selector or FixedSelector()
        self.imagination_pool = load_pool(self.options.imagination_pool or POOLS_DIR / "imagination.jsonl", ImaginationDemo)
        self.polish_pool = load_pool(self.options.polish_pool or POOLS_DIR / "polish.jsonl", PolishDemo)
        self._imagination_keys = [d.prompt for d in self.imagination_pool]
        self._polish_keys = [d.prompt for d in self.polish_pool]

    def enrich(self, dsg: DynamicSceneGraph, notes: list[str] | None = None) -> DynamicSceneGraph:
        notes = notes if notes is not None else []
        segments = dsg.unique_segments()
        graphs: list[SceneGraph] = []
        # one set of demonstrations per DSG: every segment's prompt then shares its prefix, which a local
        # backend's KV cache evaluates once
        demos = pick_demos(self.selector, dsg.prompt, self.imagination_pool, self._imagination_keys, self.options.num_demos)
        for i, segment in enumerate(segments):
            window = self.options.sliding_window
            previous = graphs[-1] if window and graphs else None
            following = segments[i + 1].graph if window and i + 1 < len(segments) else None
            messages = imagination_messages(dsg.prompt, previous, segment.graph, following, demos,
                                            self.options.templates)
            try:
                graphs.append(self._planned(ask(self.llm, messages, scene_graph_schema(self.options.max_items),
                                                lambda answer: parse_scene_graph(extract_json(answer)),
                                                self.options.max_repairs), segment.graph))
            except PlanParseError as exc:
                notes.append(f"imagination of time units {segment.start}-{segment.end - 1} kept the skeleton: {exc}")
                graphs.append(segment.graph)
        if self.options.polish:
            demos = pick_demos(self.selector, dsg.prompt, self.polish_pool, self._polish_keys, self.options.polish_demos)
            try:
                messages = polish_messages(dsg.prompt, graphs, demos, self.options.templates)
                graphs = ask(self.llm, messages, polish_schema(graphs, self.options.polish_slack),
                             lambda answer: parse_polish(answer, graphs), self.options.max_repairs)
            except PlanParseError as exc:
                notes.append(f"global polishment kept the imagined scene graphs: {exc}")
            graphs = [self._planned(graph, segment.graph) for graph, segment in zip(graphs, segments)]
        frames = [graphs[i] for i, segment in enumerate(segments) for _ in range(segment.start, segment.end)]
        return dsg.model_copy(update={"frames": frames})

    def _planned(self, enriched: SceneGraph, skeleton: SceneGraph) -> SceneGraph:
        return skeleton.union(enriched) if self.options.keep_planned else enriched
