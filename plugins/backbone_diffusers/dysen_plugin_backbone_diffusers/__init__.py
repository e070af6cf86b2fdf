"""dysen plugin backbone_diffusers: hook implementations only; components live in sibling modules."""

from dysen_core import hookimpl


@hookimpl
def register_backbones(register):
    from .backbone import DiffusersBackbone

    register(DiffusersBackbone.name, DiffusersBackbone)
