"""The frame shared by the DSG encoders of Dysen-VDM §4.2 (RGTrm, and the RGNN baseline of Table 4).

Both encoders read a ``GraphBatch`` (dysen_core.tensorize), embed its labels to width d (a node starts
from its own label plus the labels of its edges in each SG), run L layers
over the hidden states (B, M, N, d) of every node in every SG, and return ``GraphFeatures``: node tokens
plus H^G_m, the masked mean of SG m's present nodes. A node absent from SG m is zero there and never
reaches a present node, so absent entities and padding change no output.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from dysen_core.graph_features import GraphFeatures
from dysen_core.tensorize import GraphBatch


class GraphEncoderModule(nn.Module):
    """Label embedding → ``layers`` → final LayerNorm → node tokens and per-SG pooling."""

    def __init__(self, text_dim: int, width: int, layers: list[nn.Module]):
        super().__init__()
        self.label_in = nn.Linear(text_dim, width)  # text-encoder label vectors → width d (nodes and edges)
        self.node_type = nn.Embedding(2, width)  # object / attribute node
        self.incident = nn.Linear(width, 2 * width)  # an edge's label as seen from its subject / its object
        self.layers = nn.ModuleList(layers)
        self.norm = nn.LayerNorm(width)

    def forward(self, batch: GraphBatch) -> GraphFeatures:
        B, M, N = batch.shape
        labels = self.label_in(batch.label_features.to(self.label_in.weight.dtype))  # (U, d)
        nodes = labels[batch.node_label] + self.node_type(batch.node_type)  # (B, N, d)
        edges = labels[batch.edge_label]  # (E, d): edge features e_{i,j,m}
        present = batch.presence.unsqueeze(-1)  # (B, M, N, 1)
        # H^0_m (left open by the paper): each node's label plus the labels of its edges in SG m, so that the
        # initial states differ between SGs and the recurrence acts from the first layer on
        b, m, s, o = batch.edge_index.unbind(-1)  # (E,) each
        # (E, d) each; under autocast the Linear gives bf16, and index_put needs the nodes' dtype
        as_subject, as_object = self.incident(edges).to(nodes.dtype).chunk(2, dim=-1)
        h = nodes.unsqueeze(1).expand(B, M, N, -1)  # (B, M, N, d)
        h = h.index_put((b, m, s), as_subject, accumulate=True).index_put((b, m, o), as_object, accumulate=True)
        h = h * present  # (B, M, N, d): H^0_m
        for layer in self.layers:
            h = layer(h, batch, edges)
        h = self.norm(h) * present  # (B, M, N, d)
        count = present.sum(2).clamp(min=1).to(h.dtype)  # (B, M, 1); an empty SG pools to zeros
        pooled = h.sum(2) / count  # (B, M, d): H^G_m
        return GraphFeatures(pooled=pooled, nodes=h, node_mask=batch.presence, sg_mask=batch.sg_mask)


def neighbours(batch: GraphBatch) -> torch.Tensor:
    """(B, M, N, N) bool: j is a graph neighbour of i in SG m, or j = i."""
    N = batch.presence.shape[-1]
    return batch.adjacency | torch.eye(N, dtype=torch.bool, device=batch.adjacency.device)


def scan_sgs(
    step: Callable[..., torch.Tensor], xs: tuple[torch.Tensor, ...], presence: torch.Tensor
) -> torch.Tensor:
    """Run ``step(state, *x_m, has_state) -> y_m`` over m = 0 … M-1, node by node.

    ``xs`` are (B, M, N, ...) tensors; ``presence`` (B, M, N). ``state`` (B, N, ...) is each node's
    output at the last SG where it was present, so an entity that leaves and comes back keeps its state;
    ``has_state`` (B, N) is False before a node's first appearance (and at m = 0).
    """
    B, M, N = presence.shape
    state = torch.zeros_like(xs[0][:, 0])  # (B, N, ...)
    seen = torch.zeros_like(presence[:, 0])  # (B, N)
    ys = []
    for m in range(M):
        y = step(state, *(x[:, m] for x in xs), seen & presence[:, m])  # (B, N, ...)
        keep = presence[:, m].reshape(B, N, *[1] * (y.dim() - 2))
        state = torch.where(keep, y, state)
        seen = seen | presence[:, m]
        ys.append(y)
    return torch.stack(ys, 1)  # (B, M, N, ...)
