"""dysen: dynamics-aware text-to-video diffusion (Dysen-VDM, CVPR 2024) as a small core plus plugins."""

from .datamodel import SCHEMA_VERSION, ActionPlan, DynamicSceneGraph, Event, SceneGraph, Segment
from .errors import ConfigError, DysenError, InputError, PlanParseError, PluginError, UnknownComponentError
from .hookspecs import hookimpl
from .skeleton import build_skeleton

__all__ = [
    "SCHEMA_VERSION",
    "ActionPlan",
    "ConfigError",
    "DynamicSceneGraph",
    "DysenError",
    "Event",
    "InputError",
    "PlanParseError",
    "PluginError",
    "SceneGraph",
    "Segment",
    "UnknownComponentError",
    "build_skeleton",
    "hookimpl",
]
