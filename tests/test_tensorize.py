"""DSG batch → padded tensors (DESIGN.md decision 3): node union, presence, edges, label table and its cache."""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from dysen_core import ActionPlan, DynamicSceneGraph, Event, InputError, PluginError, SceneGraph, build_skeleton
from dysen_core.tensorize import ATTRIBUTE, HAS_ATTRIBUTE, OBJECT, LabelEmbedder, tensorize
from dysen_core.text_encoders import RandomTextEncoder


class CountingEncoder:
    """A RandomTextEncoder that records every list of texts it is asked to embed."""

    name = "counting"

    def __init__(self, dim: int = 8):
        self.inner = RandomTextEncoder(RandomTextEncoder.Options(dim=dim))
        self.dim = dim
        self.calls: list[list[str]] = []

    def embed(self, texts):
        self.calls.append(list(texts))
        return self.inner.embed(texts)

    def tokens(self, texts):
        return self.inner.tokens(texts)


def figure3_dsg() -> DynamicSceneGraph:
    """Step II on the paper's Fig. 3 plan, plus an intransitive event (an attribute)."""
    events = [
        Event(agent="lady", predicate="sitting on", target="chair", start=0, end=5),
        Event(agent="lady", predicate="drinking", target="coffee", start=1, end=2),
        Event(agent="lady", predicate="meeting", target="friend", start=3, end=4),
        Event(agent="lady", predicate="greeting", target="friend", start=3, end=4),
        Event(agent="lady", predicate="looking out", target="window", start=3, end=5),
        Event(agent="friend", predicate="smiling", start=3, end=4),
    ]
    return build_skeleton(ActionPlan(prompt="a lady sitting on the chair ...", events=events))


def test_node_union_presence_and_edges():
    dsg = figure3_dsg()
    batch = tensorize([dsg])
    keys = batch.node_keys[0]
    assert keys == (
        ("object", "lady"), ("object", "chair"), ("object", "coffee"), ("object", "friend"),
        ("object", "window"), ("attribute", "friend", "smiling"),
    )
    assert batch.shape == (1, 5, 6)
    # an entity stays after its event (Step II), the attribute node only while the event runs
    present = {m: {keys[n] for n in range(6) if batch.presence[0, m, n]} for m in range(5)}
    assert ("object", "coffee") in present[1] and ("object", "coffee") in present[4]
    assert present[3] >= {("object", "friend"), ("attribute", "friend", "smiling")}
    assert ("attribute", "friend", "smiling") not in present[4]
    assert batch.node_type[0].tolist() == [OBJECT] * 5 + [ATTRIBUTE]
    assert [batch.labels[i] for i in batch.node_label[0]] == ["lady", "chair", "coffee", "friend", "window", "smiling"]
    # one edge row per relation or attribute per SG, labelled by its predicate
    edges = {(m, keys[s][-1], batch.labels[lab], keys[o][-1]) for (b, m, s, o), lab in
             zip(batch.edge_index.tolist(), batch.edge_label.tolist())}
    assert len(edges) == batch.edge_index.shape[0] == sum(len(f.relations) + len(f.attributes) for f in dsg.frames)
    assert (3, "lady", "meeting", "friend") in edges and (3, "lady", "greeting", "friend") in edges
    assert (3, "friend", HAS_ATTRIBUTE, "smiling") in edges
    # adjacency: symmetric, no self loops, only between nodes present in that SG
    adj = batch.adjacency[0]
    assert torch.equal(adj, adj.transpose(-1, -2)) and not adj.diagonal(dim1=-2, dim2=-1).any()
    assert not (adj & ~(batch.presence[0, :, :, None] & batch.presence[0, :, None, :])).any()
    assert adj[1, 0, 2] and not adj[0, 0, 2]  # lady–coffee only while drinking


def test_padding_to_the_largest_graph():
    big = figure3_dsg()
    small = DynamicSceneGraph(prompt="a cat", frames=[SceneGraph(objects=["cat"])])
    batch = tensorize([small, big])
    assert batch.shape == (2, 5, 6)
    assert batch.sg_mask.tolist() == [[True, False, False, False, False], [True] * 5]
    assert batch.presence[0].sum() == 1 and not batch.presence[0, :, 1:].any()
    assert batch.node_keys[0] == (("object", "cat"),)
    assert all(t.device.type == "cpu" for t in (batch.presence, batch.adjacency, batch.edge_index, batch.node_label))


def test_labels_are_embedded_once_per_distinct_string_and_cached():
    encoder = CountingEncoder()
    embed = LabelEmbedder(encoder)
    dsg = figure3_dsg()
    batch = tensorize([dsg, dsg], embed)
    assert len(batch.labels) == len(set(batch.labels))
    assert sorted(encoder.calls[0]) == sorted(batch.labels)  # "lady", "sitting on" … once, though in every SG
    assert batch.label_features.shape == (len(batch.labels), 8)
    torch.testing.assert_close(batch.label_features, encoder.inner.embed(list(batch.labels)))
    tensorize([dsg], embed)
    assert len(encoder.calls) == 1  # a second batch reuses the cache
    tensorize([DynamicSceneGraph(prompt="x", frames=[SceneGraph(objects=["lady", "robot"])])], embed)
    assert encoder.calls[1] == ["robot"]


def test_label_cache_evicts_least_recently_used():
    encoder = CountingEncoder()
    embed = LabelEmbedder(encoder, max_entries=2)
    embed(["a", "b"])
    embed(["a"])
    embed(["c"])  # evicts "b", the least recently used
    embed(["a", "c"])
    assert encoder.calls == [["a", "b"], ["c"]]
    embed(["b"])
    assert encoder.calls[-1] == ["b"]


def test_without_relations_or_embedder():
    dsg = DynamicSceneGraph(prompt="still life", frames=[SceneGraph(objects=["apple", "pear"])] * 3)
    batch = tensorize([dsg])
    assert batch.edge_index.shape == (0, 4) and batch.edge_label.shape == (0,)
    assert not batch.adjacency.any() and batch.presence.all()
    assert batch.label_features.shape == (2, 0)


def test_text_encoder_faults_are_named():
    class Broken(CountingEncoder):
        name = "broken"

        def embed(self, texts):
            vectors = super().embed(texts)
            vectors[texts.index("chair")] = float("nan")
            return vectors

    with pytest.raises(PluginError, match=r"text_encoder 'broken' returned NaN or inf for label 'chair' \(1 of 12"):
        tensorize([figure3_dsg()], LabelEmbedder(Broken()))

    class WrongWidth(CountingEncoder):
        name = "narrow"

        def embed(self, texts):
            return super().embed(texts)[:, :4]

    with pytest.raises(PluginError, match=r"'narrow' returned \(12, 4\) for 12 labels; expected \(12, 8\)"):
        tensorize([figure3_dsg()], LabelEmbedder(WrongWidth()))


def test_bad_batches_are_rejected():
    with pytest.raises(InputError, match="empty batch"):
        tensorize([])
    with pytest.raises(InputError, match="wrap a single DSG in a list"):
        tensorize(figure3_dsg())
    with pytest.raises(InputError, match="DSG 1 is a str"):
        tensorize([figure3_dsg(), "lady"])
    with pytest.raises(InputError, match=r"has 6 nodes \(entities \+ attributes\), over max_nodes=5"):
        tensorize([figure3_dsg()], max_nodes=5)


def test_dsg_read_from_json_is_validated():
    """A DSG given as a mapping (e.g. JSON from `dysen plan`) passes through the data model's checks."""
    data = figure3_dsg().model_dump(mode="json")
    assert tensorize([data]).shape == tensorize([figure3_dsg()]).shape
    data["frames"][0]["objects"][0] = "x" * 10_000
    with pytest.raises(ValidationError, match="at most 200 characters"):
        tensorize([data])
    data["frames"][0]["objects"][0] = "   "
    with pytest.raises(ValidationError, match="at least 1 character"):
        tensorize([data])
