"""dysen plugin encoder_rgtrm: hook implementations only; components live in sibling modules."""

from dysen_core import hookimpl


@hookimpl
def register_graph_encoders(register):
    from .components import RGNNEncoder, RGTrmEncoder

    register(RGTrmEncoder.name, RGTrmEncoder)
    register(RGNNEncoder.name, RGNNEncoder)
