"""The graph encoder's output H^G (paper §4.2): per-SG vectors plus node tokens, cacheable across denoising steps.

A DSG's features do not depend on the diffusion step, so the backbone computes them once per sample and
reuses them: ``detach()``, ``to(device)`` and the safetensors round trip (``to_dict`` / ``from_dict``)
make that one line. torch is imported only by the code that builds or moves tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class GraphFeatures:
    """Encoded DSGs of a batch, padded to its largest DSG.

    ``pooled`` (B, M, d): H^G_m, one vector per scene graph (masked mean of its present nodes).
    ``nodes`` (B, M, N, d): node tokens per scene graph, zero where ``node_mask`` is False.
    ``node_mask`` (B, M, N): True where entity or attribute node n is present in SG m.
    ``sg_mask`` (B, M): True for real scene graphs (False where a shorter DSG was padded).
    """

    pooled: torch.Tensor
    nodes: torch.Tensor
    node_mask: torch.Tensor
    sg_mask: torch.Tensor

    FIELDS = ("pooled", "nodes", "node_mask", "sg_mask")

    @property
    def width(self) -> int:
        return self.pooled.shape[-1]

    def to(self, device=None, dtype=None) -> GraphFeatures:
        """Features moved to ``device``; ``dtype`` applies to the float tensors only (masks stay bool)."""
        return GraphFeatures(
            pooled=self.pooled.to(device=device, dtype=dtype),
            nodes=self.nodes.to(device=device, dtype=dtype),
            node_mask=self.node_mask.to(device=device),
            sg_mask=self.sg_mask.to(device=device),
        )

    def detach(self) -> GraphFeatures:
        """Features cut from the autograd graph, e.g. to reuse across all denoising steps of a sample."""
        return GraphFeatures(self.pooled.detach(), self.nodes.detach(), self.node_mask, self.sg_mask)

    def to_dict(self) -> dict[str, torch.Tensor]:
        """Contiguous tensors by field name, ready for ``safetensors.torch.save_file``."""
        return {name: getattr(self, name).contiguous() for name in self.FIELDS}

    @classmethod
    def from_dict(cls, tensors: dict[str, torch.Tensor]) -> GraphFeatures:
        """Inverse of ``to_dict`` (e.g. on the output of ``safetensors.torch.load_file``)."""
        return cls(**{name: tensors[name] for name in cls.FIELDS})
