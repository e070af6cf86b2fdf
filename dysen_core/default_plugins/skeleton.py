"""Registers the deterministic Step II builder."""

from ..hookspecs import hookimpl


@hookimpl
def register_dsg_builders(register):
    from ..skeleton import SkeletonBuilder

    register(SkeletonBuilder.name, SkeletonBuilder)
