"""Loading GGUF models in llama-cpp-python with the model parameters its ``Llama()`` takes no argument for.

One of them matters here: ``use_extra_bufts``, llama.cpp's repacking of the weights into extra CPU buffers
(AMX, ARM kernels). llama-cpp-python 0.3.36 built natively for an Intel CPU with AMX segfaults on the first
decoded token of a quantised model when the weights are repacked, so dysen loads without it unless asked.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_lock = threading.Lock()


@contextmanager
def model_defaults(**fields: Any) -> Iterator[None]:
    """Within the block, ``Llama()`` starts from llama.cpp's default model parameters with ``fields`` set."""
    import llama_cpp.llama as llama_module

    library = llama_module.llama_cpp
    with _lock:
        defaults = library.llama_model_default_params

        def with_fields() -> Any:
            params = defaults()
            for name, value in fields.items():
                setattr(params, name, value)
            return params

        library.llama_model_default_params = with_fields
        try:
            yield
        finally:
            library.llama_model_default_params = defaults


def open_llama(model_path: str, *, repack: bool = False, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(model_path, **kwargs)``, the weights repacked only if ``repack``."""
    from llama_cpp import Llama

    with model_defaults(use_extra_bufts=repack):
        return Llama(model_path=model_path, **kwargs)
