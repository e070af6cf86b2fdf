"""Step I, action planning with in-context learning (paper §4.1, Fig. 3, App. A.3 Fig. 12)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from .answers import parse_plan
from .datamodel import ActionPlan
from .demos import POOLS_DIR, PlanningDemo, load_pool
from .grounding import grounded_plan_schema, merge_repeats
from .icl import ask, check_prompt, pick_demos, require_llm
from .prompts import PLAN_SCHEMA, TemplateSet, planning_messages
from .selectors import FixedSelector


class ICLPlanner:
    """Asks the LLM for the prompt's events and time intervals, shown D gold demonstrations."""

    name = "icl"

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

        num_demos: int = Field(default=5, ge=0, le=16, description="Demonstrations shown (paper: D = 5).")
        pool: Path | None = Field(default=None, description="Planning demonstrations (JSONL); unset: the shipped pool.")
        max_repairs: int = Field(default=1, ge=0, le=5, description="Re-asks with the error after an invalid answer.")
        templates: TemplateSet = "icl"
        grounded: bool = Field(default=False, description=(
            "Names use only the prompt's words (a decoding constraint) and an event repeats only as often as "
            "the prompt mentions its verb (docs/planner.md; not in the paper)."))

    def __init__(self, options: Options | None = None, llm=None, demo_selector=None):
        self.options = options or self.Options()
        self.llm = require_llm(llm, "planner")
        self.selector = demo_selector or FixedSelector()
        self.pool = load_pool(self.options.pool or POOLS_DIR / "planning.jsonl", PlanningDemo)
        self._keys = [demo.plan.prompt for demo in self.pool]

    def plan(self, prompt: str) -> ActionPlan:
        prompt = check_prompt(prompt)
        demos = pick_demos(self.selector, prompt, self.pool, self._keys, self.options.num_demos)
        schema = grounded_plan_schema(prompt) if self.options.grounded else PLAN_SCHEMA
        plan = ask(self.llm, planning_messages(prompt, demos, self.options.templates), schema,
                   lambda answer: parse_plan(answer, prompt), self.options.max_repairs)
        return merge_repeats(plan) if self.options.grounded else plan
