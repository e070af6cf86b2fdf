"""dysen plugin backbone_vdm: hook implementations only; components live in sibling modules."""

from dysen_core import hookimpl


@hookimpl
def register_backbones(register):
    from .backbone import LatentVDM

    register(LatentVDM.name, LatentVDM)
