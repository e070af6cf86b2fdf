"""dysen plugin llm_openai: hook implementations only; components live in sibling modules."""

from dysen_core import hookimpl


@hookimpl
def register_llms(register):
    from .litellm_llm import LiteLLM

    register(LiteLLM.name, LiteLLM)
