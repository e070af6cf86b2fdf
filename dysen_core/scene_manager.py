"""The dynamic scene manager (Dysen, paper §4.1): Steps I–III for one prompt, built from a run config.

``SceneManager.run(prompt)`` never raises for a bad prompt or a failed LLM call: it returns a ``PlanResult``
whose ``error`` says why, so one bad prompt in a batch never loses the others' results.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .cached_embeddings import with_cache
from .chat import ChatMessage, Completion
from .config import RunConfig
from .datamodel import SCHEMA_VERSION, ActionPlan, DynamicSceneGraph
from .errors import ConfigError, DysenError
from .llm_cache import LLMCache, default_cache_path
from .llm_client import LLMClient
from .plugins import core_version
from .registry import Registry, get_registry
from .temporal_check import TemporalCheck

CHUNK = 64  # prompts whose demonstration queries are embedded in one batch


class PlanResult(BaseModel):
    """What ``dysen plan`` writes for one prompt: the plan, the skeleton DSG, the enriched DSG and a manifest."""

    model_config = ConfigDict(extra="forbid")

    schema_version: str = SCHEMA_VERSION
    prompt: str
    plan: ActionPlan | None = Field(default=None, description="Step I's action plan.")
    skeleton: DynamicSceneGraph | None = Field(default=None, description="Step II's DSG.")
    dsg: DynamicSceneGraph | None = Field(default=None, description="Step III's enriched DSG (or the skeleton).")
    notes: list[str] = Field(default_factory=list, description="Fallbacks taken, with their reasons.")
    error: str | None = Field(default=None, description="Why this prompt produced no plan, if it did not.")
    manifest: dict[str, Any] = Field(default_factory=dict, description="Components, versions, LLM use, timings.")


class _CountingLLM:
    """The shared client, counting requests per thread: each prompt runs on one thread at a time."""

    def __init__(self, llm: LLMClient):
        self.llm, self.name = llm, llm.name
        self._local = threading.local()

    @property
    def requests(self) -> int:
        return getattr(self._local, "requests", 0)

    def reset(self) -> None:
        self._local.requests = 0

    def complete(self, messages: Sequence[ChatMessage], *, json_schema: Mapping[str, Any] | None = None) -> Completion:
        self._local.requests = self.requests + 1
        return self.llm.complete(messages, json_schema=json_schema)


class SceneManager:
    """Builds the components of a run config's Steps I–III once, then runs them per prompt."""

    def __init__(self, config: RunConfig, registry: Registry | None = None):
        self.config = config
        self.registry = registry or get_registry()
        if config.planner is None:
            raise ConfigError("this config has no planner (Dysen is off); set a planner section to plan prompts")
        built: dict[str, Any] = {}
        needed = self._needs("planner") | (self._needs("imaginer") if config.imaginer else set())
        if "demo_selector" in needed and config.demo_selector is not None:
            needed |= self._needs("demo_selector")
        own = config.imagination_selector if config.imaginer and "demo_selector" in self._needs("imaginer") else None
        if own is not None:  # Step III chooses its demonstrations with a selector of its own
            needed |= self.registry.requires("demo_selector", own.name)
        # one SQLite file holds the answers and the vectors that chose their demonstrations
        wants_cache = config.llm_client.cache_mode != "off" and bool(needed & {"llm", "text_encoder"})
        cache = self._cache = LLMCache(config.llm_client.cache_path or default_cache_path()) if wants_cache else None
        for stage in ("text_encoder", "demo_selector"):  # built only when something asks for them
            if stage in needed and getattr(config, stage) is not None:
                built[stage] = self._create(stage, built)
                if stage == "text_encoder":  # a replayed batch reads its demonstration choices' vectors back
                    built[stage] = with_cache(built[stage], cache)
        self.llm = None
        self._counting = None
        if "llm" in needed and config.llm is not None:
            self.llm = LLMClient(self._create("llm", built), config.llm_client, cache=cache)
            self._counting = built["llm"] = _CountingLLM(self.llm)
        self.builder = self._create("dsg_builder", built)
        self.selector = built.get("demo_selector")
        self.planner = self._create("planner", built)
        self.imagination_selector = self.registry.create("demo_selector", own.name, own.options, **built) if own else None
        imaginer_deps = {**built, "demo_selector": self.imagination_selector} if own else built
        self.imaginer = self._create("imaginer", imaginer_deps) if config.imaginer is not None else None
        self.temporal_check = TemporalCheck(config.temporal_check) if config.temporal_check.enabled else None

    def run(self, prompt: str, *, plan_only: bool = False) -> PlanResult:
        """Steps I–III for ``prompt`` (Step I alone with ``plan_only``); failures are recorded in the result, never raised."""
        start = time.perf_counter()
        if self._counting is not None:
            self._counting.reset()
        result = PlanResult(prompt=prompt)
        timings: dict[str, float] = {}
        try:
            t = time.perf_counter()
            result.plan = self.planner.plan(prompt)
            if self.temporal_check is not None:
                result.plan = self.temporal_check.check(result.plan, notes=result.notes)
            timings["plan_s"] = time.perf_counter() - t
            if not plan_only:
                result.skeleton = self.builder.build(result.plan).with_frames(self.config.video.frames)
                result.dsg = result.skeleton
                if self.imaginer is not None:
                    t = time.perf_counter()
                    result.dsg = self.imaginer.enrich(result.skeleton, notes=result.notes)
                    timings["imagine_s"] = time.perf_counter() - t
        except DysenError as exc:
            result.error = str(exc)
        timings["total_s"] = time.perf_counter() - start
        result.manifest = {
            "dysen_version": core_version(),
            "config": self.config.description,
            "components": {stage: ref.name for stage in ("llm", "demo_selector", "planner", "dsg_builder", "imaginer",
                                                         "imagination_selector")
                           if (ref := getattr(self.config, stage)) is not None},
            "llm": self.llm.cache_identity() if self.llm is not None else None,
            "llm_requests": self._counting.requests if self._counting is not None else 0,
            "temporal_check": self.temporal_check is not None,
            "segments": len(result.skeleton.unique_segments()) if result.skeleton is not None else 0,
            "timings": {k: round(v, 3) for k, v in timings.items()},
        }
        return result

    def run_many(self, prompts: Sequence[str], *, concurrency: int = 1, plan_only: bool = False,
                 on_result: Callable[[int, PlanResult], None] | None = None) -> list[PlanResult]:
        """``run`` over ``prompts`` in chunks; a selector with ``prefetch`` embeds each chunk's queries at once."""
        results: list[PlanResult] = []
        prefetches = [f for s in (self.selector, self.imagination_selector) if (f := getattr(s, "prefetch", None))]
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for first in range(0, len(prompts), CHUNK):
                chunk = prompts[first : first + CHUNK]
                for prefetch in prefetches:
                    prefetch(chunk)
                for n, result in enumerate(pool.map(partial(self.run, plan_only=plan_only), chunk), start=first):
                    if on_result is not None:
                        on_result(n, result)
                    results.append(result)
        return results

    def close(self) -> None:
        """Free the LLM (a local model's memory goes back before the video model runs) and close the cache."""
        if self.llm is not None:
            self.llm.close()
        if self._cache is not None:
            self._cache.close()

    def __enter__(self) -> SceneManager:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _needs(self, stage: str) -> set[str]:
        ref = getattr(self.config, stage)
        return self.registry.requires(stage, ref.name) if ref is not None else set()

    def _create(self, stage: str, deps: Mapping[str, Any]) -> Any:
        ref = getattr(self.config, stage)
        return self.registry.create(stage, ref.name, ref.options, **deps)
