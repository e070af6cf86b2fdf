"""Token ids for a chat exchange, made exactly as llama-cpp-python makes them at inference.

The prompt is the GGUF's own chat template rendered with the generation prompt (the system message added as
the LLM client adds it), tokenised with special tokens; the answer follows, closed by the end-of-turn token.
Training on anything else would teach the model inputs it never sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..chat import DEFAULT_SYSTEM_MESSAGE, ChatMessage, as_dicts, with_system_message
from ..errors import ConfigError
from ..llama_loading import open_llama


class ChatTokenizer:
    """The tokenizer and chat template of one GGUF file (llama.cpp loads only its vocabulary)."""

    def __init__(self, gguf_path: str | Path, system_message: str | None = DEFAULT_SYSTEM_MESSAGE):
        try:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:
            raise ConfigError("tuning needs llama-cpp-python (installed with dysen-plugin-llm-local)") from exc
        self._llama = open_llama(str(gguf_path), vocab_only=True, verbose=False)
        template = self._llama.metadata.get("tokenizer.chat_template")
        if template is None:
            raise ConfigError(f"{Path(gguf_path).name} has no chat template; only chat models can be tuned")
        self.eos = self._llama.token_eos()
        bos = self._llama.token_bos()
        text = self._llama._model.token_get_text
        self._format = Jinja2ChatFormatter(template=template, eos_token=text(self.eos),
                                           bos_token=text(bos) if bos != -1 else "")
        self.system_message = system_message

    def prompt_ids(self, messages: Sequence[ChatMessage]) -> list[int]:
        chat = as_dicts(with_system_message(messages, self.system_message))
        rendered = self._format(messages=chat)
        return self._llama.tokenize(rendered.prompt.encode("utf-8"), add_bos=not rendered.added_special, special=True)

    def answer_ids(self, answer: str) -> list[int]:
        return [*self._llama.tokenize(answer.encode("utf-8"), add_bos=False, special=False), self.eos]

    def close(self) -> None:
        self._llama.close()
