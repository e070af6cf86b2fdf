"""Recurrent graph Transformer (RGTrm), Dysen-VDM §4.2, eqs. 2–5.

References: Fei et al., "Dysen-VDM: Empowering Dynamics-aware Text-to-Video Diffusion with LLMs",
CVPR 2024, §4.2; Vaswani et al. 2017 (multi-head attention, residual + LayerNorm + feed-forward).

Notation (code → paper), for layer l and head k:
    h            H^l_m for all m at once: (B, M, N, d), node n is the same entity in every SG m
    q, k, v      Q^{k,l}_m, K^{k,l}_m, V^{k,l}_m = W^Q H^l_m, W^K H^l_m, W^V H^l_m: (B, M, N, k, d_k)
    z            z_m, the recurrent gate of eq. 5: (B, M, N, k, 1)
    q_hat        Q̂^{k,l}_m of eq. 4
    prev         Q̂^{k,l}_{m-1} of the same node (carried over SGs where the node is absent)
    bias         W^E e_{i,j,m} per head, -inf outside the neighbourhood N_i ∪ {i}: (B·M, k, N, N)
    self.out     O^l, the projection of the concatenated heads in eq. 2
Layers are pre-LayerNorm blocks: h ← h + O(attention(LN h)), h ← h + FFN(LN h).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dysen_core.tensorize import GraphBatch

from .graph_layers import GraphEncoderModule, neighbours, scan_sgs


class RGTrmLayer(nn.Module):
    """One RGTrm layer l: edge-aware graph attention with the recurrent query gate, then a feed-forward."""

    def __init__(self, width: int, heads: int, dropout: float, recurrent: bool):
        super().__init__()
        self.heads = heads
        self.dropout = dropout
        self.recurrent = recurrent  # False forces z_m = 1: every SG is encoded alone
        self.fused = True  # scaled_dot_product_attention; False runs the readable masked softmax
        head_dim = width // heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)  # W^Q, W^K, W^V for all heads
        self.gate_w = nn.Parameter(torch.zeros(heads, head_dim))  # W^z, one row per head
        self.gate_b = nn.Parameter(torch.zeros(heads, 1))
        self.edge = nn.Linear(width, 2 * heads)  # W^E: subject→object and object→subject, per head
        self.self_edge = nn.Parameter(torch.zeros(heads))  # the edge term of i attending to itself
        self.out = nn.Linear(width, width)  # O^l
        self.norm2 = nn.LayerNorm(width)
        self.ffn = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.drop = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, batch: GraphBatch, edges: torch.Tensor) -> torch.Tensor:
        B, M, N, D = h.shape
        H, Dh = self.heads, D // self.heads

        # 1. queries, keys, values per SG and head
        q, k, v = self.qkv(self.norm1(h)).view(B, M, N, 3, H, Dh).unbind(3)  # each (B, M, N, H, Dh)

        # 2. recurrent query gate over the SGs
        if self.recurrent:
            # eq. 5's σ(W^z·Q_m·K_m) does not type-check; read per node i and head: σ(w^z·(q_i ⊙ k_i) + b)
            z = torch.sigmoid((q * k * self.gate_w).sum(-1, keepdim=True) + self.gate_b)  # eq. 5
            q = scan_sgs(self._gate, (q, z), batch.presence)  # (B, M, N, H, Dh): Q̂_m

        # 3. attention over graph neighbours and self, heads concatenated and projected
        q, k, v = (t.reshape(B * M, N, H, Dh).transpose(1, 2) for t in (q, k, v))  # (B·M, H, N, Dh)
        heads = self._attend(q, k, v, self._edge_bias(batch, edges))  # (B·M, H, N, Dh)
        heads = heads.transpose(1, 2).reshape(B, M, N, D)  # (B, M, N, H·Dh): ‖_k
        h = h + self.drop(self.out(heads))  # eq. 2

        # 4. feed-forward; absent nodes stay zero
        h = h + self.drop(self.ffn(self.norm2(h)))
        return h * batch.presence.unsqueeze(-1)

    @staticmethod
    def _gate(prev: torch.Tensor, q_m: torch.Tensor, z_m: torch.Tensor, has_prev: torch.Tensor) -> torch.Tensor:
        """Q̂_m for one m: (B, N, H, Dh). A node seen for the first time (and every node at m = 0) is not mixed."""
        # eq. 4 prints Q_{m-1}; we carry the mixed Q̂_{m-1}, so the gate recurs over all M SGs ("M recurrent steps")
        q_hat = (1 - z_m) * prev + z_m * q_m  # eq. 4
        return torch.where(has_prev[..., None, None], q_hat, q_m)

    def _edge_bias(self, batch: GraphBatch, edges: torch.Tensor) -> torch.Tensor:
        """(B·M, H, N, N) additive attention term: W^E e_{i,j,m} on edges, self_edge on i = i, -inf elsewhere."""
        B, M, N = batch.shape
        b, m, s, o = batch.edge_index.unbind(-1)  # (E,) each
        forward, backward = self.edge(edges).split(self.heads, dim=-1)  # W^E e_{i,j,m}, (E, H) each  # eq. 3
        bias = edges.new_zeros(B, M, N, N, self.heads)  # (B, M, N_i, N_j, H)
        bias.index_put_((b, m, s, o), forward, accumulate=True)  # several predicates on one pair add up
        bias.index_put_((b, m, o, s), backward, accumulate=True)
        bias = bias + torch.eye(N, dtype=bias.dtype, device=bias.device)[..., None] * self.self_edge
        bias = bias.masked_fill(~neighbours(batch).unsqueeze(-1), float("-inf"))
        return bias.permute(0, 1, 4, 2, 3).reshape(B * M, self.heads, N, N)  # (B·M, H, N_i, N_j)

    def _attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Σ_j w_ij V_j for every node i: (B·M, H, N, Dh)."""
        p = self.dropout if self.training else 0.0
        if self.fused:
            return F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)  # eq. 3
        scores = q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5  # (B·M, H, N, N)
        # eq. 3 multiplies the softmax by E; we read E as a positive per-head factor exp(W^E e_ij) before normalising
        w = torch.softmax(scores + bias, dim=-1)  # eq. 3
        return F.dropout(w, p, self.training) @ v  # eq. 2


class RGTrm(GraphEncoderModule):
    """L RGTrm layers of width d with k heads over a ``GraphBatch`` (paper: L=12, k=8, d=768, dropout 0.3)."""

    def __init__(self, text_dim: int, width: int, layers: int, heads: int, dropout: float, recurrent: bool):
        super().__init__(text_dim, width, [RGTrmLayer(width, heads, dropout, recurrent) for _ in range(layers)])
