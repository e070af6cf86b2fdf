"""A batch of dynamic scene graphs as padded tensors for the graph encoders (paper §4.2, DESIGN.md decision 3).

The node set of a DSG is the union of its entities over all SGs, so node n is the same entity at every
step m (eq. 4 mixes Q_{m-1} into Q_m node by node), plus one node per (object, attribute) pair joined to
its object by a ``has attribute`` edge. ``presence[b, m, n]`` says whether node n is in SG m. Predicates
are edge labels. Every label (entity, attribute, predicate) is embedded once per distinct string by the
``text_encoder`` and cached, since a DSG repeats its labels in every SG.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from .datamodel import DynamicSceneGraph
from .errors import InputError, PluginError
from .protocols import TextEncoder

HAS_ATTRIBUTE = "has attribute"
"""The edge label joining an object node to each of its attribute nodes."""
OBJECT, ATTRIBUTE = 0, 1
"""Node types (``node_type`` values)."""

NodeKey = tuple[str, ...]
"""("object", name) or ("attribute", object, attribute): a node's identity within its DSG."""


@dataclass(frozen=True)
class GraphBatch:
    """B DSGs padded to M scene graphs and N nodes; E predicate edges in all.

    ``labels`` (U,): the batch's distinct label strings; ``label_features`` (U, D_text) their embeddings.
    ``node_label`` (B, N) and ``edge_label`` (E,) index into ``labels``; ``node_type`` (B, N) is
    OBJECT or ATTRIBUTE. ``presence`` (B, M, N): node n is in SG m. ``sg_mask`` (B, M): real SGs.
    ``adjacency`` (B, M, N, N): i and j share an edge in SG m (symmetric, self excluded).
    ``edge_index`` (E, 4): rows (b, m, subject node, object node), one per relation or attribute.
    ``node_keys``: for each DSG, the identity of each of its nodes (padding has none).
    """

    labels: tuple[str, ...]
    label_features: torch.Tensor
    node_label: torch.Tensor
    node_type: torch.Tensor
    presence: torch.Tensor
    sg_mask: torch.Tensor
    adjacency: torch.Tensor
    edge_index: torch.Tensor
    edge_label: torch.Tensor
    node_keys: tuple[tuple[NodeKey, ...], ...]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(B, M, N)."""
        return tuple(self.presence.shape)


class LabelEmbedder:
    """Embeds each distinct label once with ``text_encoder`` and keeps the vectors (LRU, CPU, float32).

    Every vector a text encoder returns is checked: a wrong shape or a NaN/inf is an error naming the
    encoder and the label, never a silent NaN downstream.
    """

    def __init__(self, text_encoder: TextEncoder, max_entries: int = 100_000):
        self.text_encoder = text_encoder
        self.max_entries = max_entries
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    @property
    def dim(self) -> int:
        return self.text_encoder.dim

    def __call__(self, labels: Sequence[str]) -> torch.Tensor:
        """(U, dim) embeddings of ``labels``, computing only those not seen before."""
        missing = list(dict.fromkeys(label for label in labels if label not in self._cache))
        if missing:
            with torch.no_grad():
                vectors = self.text_encoder.embed(missing)
            self._check(missing, vectors)
            for label, vector in zip(missing, vectors.detach().to("cpu", torch.float32)):
                self._cache[label] = vector
        for label in labels:
            self._cache.move_to_end(label)
        rows = torch.stack([self._cache[label] for label in labels]) if labels else torch.zeros(0, self.dim)
        while len(self._cache) > max(self.max_entries, len(labels)):
            self._cache.popitem(last=False)
        return rows

    def _check(self, labels: list[str], vectors: torch.Tensor) -> None:
        name = getattr(self.text_encoder, "name", type(self.text_encoder).__name__)
        expected = (len(labels), self.dim)
        if not isinstance(vectors, torch.Tensor) or tuple(vectors.shape) != expected:
            got = tuple(vectors.shape) if isinstance(vectors, torch.Tensor) else type(vectors).__name__
            raise PluginError(f"text_encoder {name!r} returned {got} for {len(labels)} labels; expected {expected}")
        bad = (~torch.isfinite(vectors)).any(dim=-1).nonzero().flatten().tolist()
        if bad:
            raise PluginError(
                f"text_encoder {name!r} returned NaN or inf for label {labels[bad[0]]!r} "
                f"({len(bad)} of {len(labels)} labels); check its weights and dtype"
            )


def tensorize(
    dsgs: Sequence[DynamicSceneGraph | Mapping],
    embed: LabelEmbedder | None = None,
    *,
    device: torch.device | str = "cpu",
    max_nodes: int | None = None,
) -> GraphBatch:
    """The batch ``dsgs`` as a ``GraphBatch`` on ``device``; labels embedded by ``embed`` (zeros (U, 0) if None).

    A mapping is validated as a DSG first (e.g. one read from JSON). ``max_nodes`` caps the nodes of
    one DSG (entities plus attributes) with a clear error instead of an out-of-memory crash.
    """
    if isinstance(dsgs, (DynamicSceneGraph, Mapping, str)):
        raise InputError("tensorize takes a sequence of DSGs; wrap a single DSG in a list")
    graphs = [_as_dsg(i, dsg) for i, dsg in enumerate(dsgs)]
    if not graphs:
        raise InputError("tensorize needs at least one DSG; got an empty batch")

    labels: dict[str, int] = {}  # label -> row in the label table

    def label_id(text: str) -> int:
        return labels.setdefault(text, len(labels))

    node_keys, node_labels, node_types, presences, edges = [], [], [], [], []
    for b, dsg in enumerate(graphs):
        index: dict[NodeKey, int] = {}  # node key -> node number, in order of first appearance
        present: list[list[int]] = []
        for m, sg in enumerate(dsg.frames):
            keys = [("object", name) for name in sg.objects] + [("attribute", o, a) for o, a in sg.attributes]
            present.append([index.setdefault(key, len(index)) for key in keys])
            for obj, attribute in sg.attributes:
                edges.append((b, m, index[("object", obj)], index[("attribute", obj, attribute)], HAS_ATTRIBUTE))
            for subject, predicate, obj in sg.relations:
                edges.append((b, m, index[("object", subject)], index[("object", obj)], predicate))
        if max_nodes is not None and len(index) > max_nodes:
            raise InputError(
                f"DSG {b} ({dsg.prompt[:40]!r}) has {len(index)} nodes (entities + attributes), over "
                f"max_nodes={max_nodes}; raise the graph encoder's max_nodes option or simplify the DSG"
            )
        node_keys.append(tuple(index))
        node_labels.append([label_id(key[-1]) for key in index])
        node_types.append([OBJECT if key[0] == "object" else ATTRIBUTE for key in index])
        presences.append(present)

    B = len(graphs)
    M = max(len(dsg.frames) for dsg in graphs)
    N = max(1, max(len(keys) for keys in node_keys))
    edge_labels = [label_id(edge[4]) for edge in edges]

    # Built as Python lists, then sent to the device once per tensor.
    node_label = [row + [0] * (N - len(row)) for row in node_labels]
    node_type = [row + [OBJECT] * (N - len(row)) for row in node_types]
    flat_presence = [(b, m, n) for b, present in enumerate(presences) for m, ns in enumerate(present) for n in ns]
    table = list(labels)
    features = embed(table) if embed is not None else torch.zeros(len(table), 0)

    presence = torch.zeros(B, M, N, dtype=torch.bool, device=device)
    if flat_presence:
        presence[tuple(torch.tensor(flat_presence, device=device).T)] = True
    lengths = torch.tensor([len(dsg.frames) for dsg in graphs], device=device)  # (B,)
    sg_mask = torch.arange(M, device=device)[None, :] < lengths[:, None]  # (B, M)
    edge_index = torch.tensor([edge[:4] for edge in edges], dtype=torch.long, device=device).reshape(-1, 4)
    adjacency = torch.zeros(B, M, N, N, dtype=torch.bool, device=device)
    b_, m_, s_, o_ = edge_index.unbind(-1)
    adjacency[b_, m_, s_, o_] = True
    adjacency[b_, m_, o_, s_] = True
    adjacency &= ~torch.eye(N, dtype=torch.bool, device=device)  # self is not a neighbour; encoders add it
    return GraphBatch(
        labels=tuple(table),
        label_features=features.to(device),
        node_label=torch.tensor(node_label, dtype=torch.long, device=device),
        node_type=torch.tensor(node_type, dtype=torch.long, device=device),
        presence=presence,
        sg_mask=sg_mask,
        adjacency=adjacency,
        edge_index=edge_index,
        edge_label=torch.tensor(edge_labels, dtype=torch.long, device=device),
        node_keys=tuple(node_keys),
    )


def _as_dsg(i: int, dsg: object) -> DynamicSceneGraph:
    if isinstance(dsg, DynamicSceneGraph):
        return dsg
    if isinstance(dsg, Mapping):
        return DynamicSceneGraph.model_validate(dsg)
    raise InputError(f"DSG {i} is a {type(dsg).__name__}, not a DynamicSceneGraph or a mapping of one")
