"""Registers the core's text encoders: ``minilm`` (offline default), ``clip`` (the paper's) and ``random`` (tests)."""

from ..hookspecs import hookimpl


@hookimpl
def register_text_encoders(register):
    from ..text_encoders import TEXT_ENCODERS

    for factory in TEXT_ENCODERS:
        register(factory.name, factory)
