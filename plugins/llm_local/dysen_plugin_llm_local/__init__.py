"""dysen plugin llm_local: hook implementations only; components live in sibling modules."""

from dysen_core import hookimpl


@hookimpl
def register_llms(register):
    from .llama_cpp_llm import LlamaCppLLM
    from .transformers_llm import TransformersLLM

    register(LlamaCppLLM.name, LlamaCppLLM)
    register(TransformersLLM.name, TransformersLLM)
