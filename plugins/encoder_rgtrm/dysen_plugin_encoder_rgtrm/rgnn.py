"""Recurrent space-time graph network (RGNN), the baseline of Dysen-VDM Table 4 ("RGTrm → RGNN").

Reference: Nicolicioiu, Duta and Leordeanu, "Recurrent Space-time Graph Neural Networks", NeurIPS 2019
(the paper's ref. 44). Each layer alternates the two stages of that model over a DSG:
  space: every node gathers messages from its neighbours in the same SG, weighted by dot-product
         attention; a message is f_send(h_j) plus the embedding of the edge's label (its predicate);
  time:  a GRU carries each node's state from one SG to the next (the entity's previous scene).
It reads the same ``GraphBatch`` and returns the same ``GraphFeatures`` as RGTrm, so the ablation is a
change of the component name in a config.

Notation: h (B, M, N, d) node states; alpha (B, M, heads, N_i, N_j) attention of i over j; agg the
gathered messages; v the state after space processing; the GRU's state is the node's previous SG.
"""

from __future__ import annotations

import torch
from torch import nn

from dysen_core.tensorize import GraphBatch

from .graph_layers import GraphEncoderModule, neighbours, scan_sgs


class RGNNLayer(nn.Module):
    """One space-time processing step: attention-weighted messages within each SG, then a GRU along the SGs."""

    def __init__(self, width: int, heads: int, dropout: float, recurrent: bool):
        super().__init__()
        self.heads = heads
        self.qk = nn.Linear(width, 2 * width)  # attention scores between nodes
        self.send = nn.Linear(width, width)  # f_send, the message of node j
        self.edge = nn.Linear(width, 2 * width)  # edge-label messages, subject→object and object→subject
        self.gather = nn.Sequential(nn.Linear(2 * width, width), nn.GELU(), nn.Linear(width, width))  # f_gather
        self.norm = nn.LayerNorm(width)
        self.time = nn.GRUCell(width, width) if recurrent else None  # time processing
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, batch: GraphBatch, edges: torch.Tensor) -> torch.Tensor:
        B, M, N, D = h.shape
        H, Dh = self.heads, D // self.heads

        # 1. space: attention of node i over its neighbours and itself
        q, k = self.qk(h).view(B, M, N, 2, H, Dh).unbind(3)  # each (B, M, N, H, Dh)
        scores = torch.einsum("bmihd,bmjhd->bmhij", q, k) / Dh**0.5  # (B, M, H, N, N)
        scores = scores.masked_fill(~neighbours(batch).unsqueeze(2), float("-inf"))
        alpha = self.drop(torch.softmax(scores, dim=-1))  # (B, M, H, N_i, N_j)

        # 2. space: gather node messages, plus each edge's label message weighted by the same attention
        messages = self.send(h).view(B, M, N, H, Dh)  # (B, M, N, H, Dh)
        agg = torch.einsum("bmhij,bmjhd->bmihd", alpha, messages)  # (B, M, N, H, Dh)
        b, m, s, o = batch.edge_index.unbind(-1)  # (E,) each
        forward, backward = self.edge(edges).view(-1, 2, H, Dh).unbind(1)  # (E, H, Dh) each
        agg = agg.index_put((b, m, s), alpha[b, m, :, s, o].unsqueeze(-1) * forward, accumulate=True)
        agg = agg.index_put((b, m, o), alpha[b, m, :, o, s].unsqueeze(-1) * backward, accumulate=True)
        update = self.gather(torch.cat([h, agg.reshape(B, M, N, D)], dim=-1))  # (B, M, N, d)
        v = self.norm(h + self.drop(update))  # (B, M, N, d)

        # 3. time: each node's GRU runs over the SGs where it is present
        if self.time is not None:
            v = scan_sgs(self._step, (v,), batch.presence)  # (B, M, N, d)
        return v * batch.presence.unsqueeze(-1)

    def _step(self, state: torch.Tensor, v_m: torch.Tensor, has_state: torch.Tensor) -> torch.Tensor:
        """The GRU update of one SG: (B, N, d). A node seen for the first time starts from a zero state."""
        B, N, D = v_m.shape
        state = state * has_state.unsqueeze(-1).to(state.dtype)
        return self.time(v_m.reshape(B * N, D), state.reshape(B * N, D)).view(B, N, D)  # (B·N, d) → (B, N, d)


class RGNN(GraphEncoderModule):
    """L space-time layers over a ``GraphBatch``; same constructor and output as ``RGTrm``."""

    def __init__(self, text_dim: int, width: int, layers: int, heads: int, dropout: float, recurrent: bool):
        super().__init__(text_dim, width, [RGNNLayer(width, heads, dropout, recurrent) for _ in range(layers)])
