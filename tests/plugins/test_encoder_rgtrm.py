"""The encoder_rgtrm plugin: RGTrm (paper §4.2, eqs. 2–5) and the RGNN baseline, resolved by name on CPU."""

from __future__ import annotations

import dataclasses
import random
import subprocess
import sys

import dysen_plugin_encoder_rgtrm
import pytest
import torch
from safetensors.torch import load_file, save_file

from dysen_core import ConfigError, DynamicSceneGraph, InputError, PluginError, SceneGraph
from dysen_core.graph_features import GraphFeatures
from dysen_core.tensorize import tensorize
from dysen_core.text_encoders import RandomTextEncoder

PLUGIN = dysen_plugin_encoder_rgtrm  # what the `registry` fixture (tests/plugins/conftest.py) loads

ENCODERS = ("rgtrm", "rgnn")
TINY = {"layers": 2, "heads": 4, "width": 32, "dropout": 0.0}


@pytest.fixture(scope="module")
def text_encoder():
    return RandomTextEncoder(RandomTextEncoder.Options(dim=16))


def make(registry, text_encoder, name="rgtrm", **options):
    return registry.create("graph_encoder", name, {**TINY, **options}, text_encoder=text_encoder)


def sg(objects, relations=(), attributes=()):
    return SceneGraph(objects=list(objects), relations=list(relations), attributes=list(attributes))


def lady_dsg() -> DynamicSceneGraph:
    """The paper's Fig. 3 DSG (skeleton plus some imagined triplets), five SGs."""
    base = [("lady", "sitting on", "chair")]
    meet = [("lady", "meeting", "friend"), ("lady", "greeting", "friend"), ("lady", "looking out", "window")]
    return DynamicSceneGraph(
        prompt="a lady sitting on the chair and drinking coffee, meeting a friend, then looking out window",
        frames=[
            sg(["lady", "chair"], base, [("lady", "calm")]),
            sg(["lady", "chair", "coffee", "cup"], [*base, ("lady", "drinking", "coffee"), ("lady", "holding", "cup")]),
            sg(["lady", "chair", "cup"], base, [("cup", "empty")]),
            sg(["lady", "chair", "friend", "window"], [*base, *meet]),
            sg(["lady", "chair", "window"], [*base, ("lady", "looking out", "window")], [("lady", "calm")]),
        ],
    )


def small_dsg() -> DynamicSceneGraph:
    return DynamicSceneGraph(
        prompt="a dog chases a ball",
        frames=[sg(["dog", "ball"], [("dog", "chasing", "ball")]), sg(["dog", "ball"], [("dog", "biting", "ball")])],
    )


def encode(encoder, dsgs) -> GraphFeatures:
    with torch.no_grad():
        return encoder.encode(dsgs)


def node_rows(features: GraphFeatures, batch, b: int, m: int) -> dict:
    """Node tokens of SG m of DSG b, keyed by node identity."""
    keys = batch.node_keys[b]
    return {keys[n]: features.nodes[b, m, n] for n in range(len(keys)) if batch.presence[b, m, n]}


# --- registration and options ------------------------------------------------------------------------


def test_plugin_registers_rgtrm_and_rgnn_with_paper_defaults(registry):
    assert registry.names("graph_encoder") == ["rgnn", "rgtrm"]
    for name in ENCODERS:
        opts = registry.options("graph_encoder", name)
        assert (opts.layers, opts.heads, opts.width, opts.dropout) == (12, 8, 768, 0.3)  # the paper's settings


def test_options_errors_name_the_field(registry, text_encoder):
    with pytest.raises(ConfigError, match=r"width \(30\) must be a multiple of heads \(4\)"):
        make(registry, text_encoder, width=30)
    with pytest.raises(ConfigError, match=r"graph_encoder.options.hidden"):
        make(registry, text_encoder, hidden=3)
    with pytest.raises(ConfigError, match="needs a text_encoder"):
        registry.create("graph_encoder", "rgtrm", TINY)


def test_same_seed_same_outputs_other_seed_differs(registry, text_encoder):
    for name in ENCODERS:
        a = encode(make(registry, text_encoder, name, seed=3), [lady_dsg()])
        b = encode(make(registry, text_encoder, name, seed=3), [lady_dsg()])
        c = encode(make(registry, text_encoder, name, seed=4), [lady_dsg()])
        assert torch.equal(a.pooled, b.pooled) and torch.equal(a.nodes, b.nodes)
        assert not torch.allclose(a.pooled, c.pooled)


def test_importing_the_plugin_does_not_import_torch():
    """`dysen --help` stays fast: hookimpls and component classes load torch only when a model is built."""
    code = "import sys, dysen_plugin_encoder_rgtrm.components; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# --- shapes and masks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENCODERS)
def test_shapes_masks_and_padding(registry, text_encoder, name):
    encoder = make(registry, text_encoder, name)
    big, small = lady_dsg(), small_dsg()
    out = encode(encoder, [big, small])
    batch = tensorize([big, small])
    B, M, N = batch.shape
    assert out.pooled.shape == (B, M, 32) and out.nodes.shape == (B, M, N, 32)
    assert torch.equal(out.node_mask, batch.presence) and torch.equal(out.sg_mask, batch.sg_mask)
    assert out.nodes[~out.node_mask].abs().max() == 0
    assert out.pooled[1, 2:].abs().max() == 0  # the small DSG's padded SGs
    assert torch.isfinite(out.pooled).all() and torch.isfinite(out.nodes).all()
    # padded nodes and padded SGs change nothing: the small DSG alone gives the same numbers
    alone = encode(encoder, [small])
    torch.testing.assert_close(out.pooled[1, :2], alone.pooled[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.nodes[1, :2, :2], alone.nodes[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ENCODERS)
def test_absent_entities_change_no_output(registry, text_encoder, name):
    """A stranger who only shows up in the last SG leaves every earlier SG's output as it was."""
    encoder = make(registry, text_encoder, name)
    dsg = lady_dsg()
    last = dsg.frames[-1]
    visited = sg([*last.objects, "stranger"], [*last.relations, ("stranger", "waving at", "lady")])
    with_stranger = dsg.model_copy(update={"frames": [*dsg.frames[:-1], visited]})
    a, b = encode(encoder, [dsg]), encode(encoder, [with_stranger])
    torch.testing.assert_close(a.pooled[0, :-1], b.pooled[0, :-1], rtol=1e-5, atol=1e-5)
    batch_a, batch_b = tensorize([dsg]), tensorize([with_stranger])
    for m in range(len(dsg.frames) - 1):
        rows_a, rows_b = node_rows(a, batch_a, 0, m), node_rows(b, batch_b, 0, m)
        assert rows_a.keys() == rows_b.keys()
        for key in rows_a:
            torch.testing.assert_close(rows_a[key], rows_b[key], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(a.pooled[0, -1], b.pooled[0, -1])


def permuted(batch, perm: torch.Tensor):
    """``batch`` with its nodes renumbered: new node n is old node perm[n]."""
    inverse = torch.argsort(perm)
    edge_index = batch.edge_index.clone()
    edge_index[:, 2:] = inverse[edge_index[:, 2:]]
    return dataclasses.replace(
        batch,
        node_label=batch.node_label[:, perm],
        node_type=batch.node_type[:, perm],
        presence=batch.presence[:, :, perm],
        adjacency=batch.adjacency[:, :, perm][:, :, :, perm],
        edge_index=edge_index,
        node_keys=tuple(tuple(keys[i] for i in perm.tolist()) for keys in batch.node_keys),
    )


@pytest.mark.parametrize("name", ENCODERS)
def test_permuting_nodes_permutes_node_outputs(registry, text_encoder, name):
    encoder = make(registry, text_encoder, name)
    batch = tensorize([lady_dsg()], encoder.labels)
    perm = torch.randperm(batch.shape[2], generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b = encoder.module(batch), encoder.module(permuted(batch, perm))
    torch.testing.assert_close(a.nodes[:, :, perm], b.nodes, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(a.pooled, b.pooled, rtol=1e-5, atol=1e-5)


# --- recurrence ----------------------------------------------------------------------------------------


def test_gate_forced_open_equals_each_sg_alone(registry, text_encoder):
    """With z_m = 1 (eq. 4) the RGTrm is a per-SG graph Transformer."""
    encoder = make(registry, text_encoder, "rgtrm")
    dsg = lady_dsg()
    recurrent = encode(encoder, [dsg])
    for layer in encoder.module.layers:
        layer.recurrent = False
    open_gate = encode(encoder, [dsg])
    batch = tensorize([dsg])
    for m, frame in enumerate(dsg.frames):
        single = DynamicSceneGraph(prompt="one SG", frames=[frame])
        alone = encode(encoder, [single])
        torch.testing.assert_close(open_gate.pooled[0, m], alone.pooled[0, 0], rtol=1e-5, atol=1e-5)
        rows, alone_rows = node_rows(open_gate, batch, 0, m), node_rows(alone, tensorize([single]), 0, 0)
        assert rows.keys() == alone_rows.keys()
        for key in rows:
            torch.testing.assert_close(rows[key], alone_rows[key], rtol=1e-5, atol=1e-5)
    # the gate is real: with recurrence on, later SGs see earlier ones and the outputs differ
    torch.testing.assert_close(recurrent.pooled[0, 0], open_gate.pooled[0, 0])
    assert not torch.allclose(recurrent.pooled[0, 1:], open_gate.pooled[0, 1:])


@pytest.mark.parametrize("name", ENCODERS)
def test_recurrence_is_causal_over_sgs(registry, text_encoder, name):
    """Changing SG m changes the outputs at m and later only."""
    encoder = make(registry, text_encoder, name)
    dsg = lady_dsg()
    m = 2
    changed = dsg.frames[m].model_copy(update={"relations": [("lady", "washing", "cup")], "attributes": []})
    other = dsg.model_copy(update={"frames": [*dsg.frames[:m], changed, *dsg.frames[m + 1 :]]})
    a, b = encode(encoder, [dsg]), encode(encoder, [other])
    torch.testing.assert_close(a.pooled[0, :m], b.pooled[0, :m], rtol=1e-5, atol=1e-5)
    common = min(a.nodes.shape[2], b.nodes.shape[2])  # node numbers follow first appearance: earlier ones agree
    torch.testing.assert_close(a.nodes[0, :m, :common], b.nodes[0, :m, :common], rtol=1e-5, atol=1e-5)
    for t in range(m, len(dsg.frames)):
        assert not torch.allclose(a.pooled[0, t], b.pooled[0, t], atol=1e-6), f"SG {t} did not see the change at {m}"


def test_fused_and_readable_attention_agree(registry, text_encoder):
    encoder = make(registry, text_encoder, "rgtrm")
    fused = encode(encoder, [lady_dsg(), small_dsg()])
    for layer in encoder.module.layers:
        layer.fused = False
    readable = encode(encoder, [lady_dsg(), small_dsg()])
    torch.testing.assert_close(fused.nodes, readable.nodes, rtol=1e-5, atol=1e-5)


# --- training ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENCODERS)
def test_gradients_reach_every_parameter(registry, text_encoder, name):
    encoder = make(registry, text_encoder, name, dropout=0.3)
    encoder.module.train()
    out = encoder.encode([lady_dsg(), small_dsg()])
    (out.pooled.square().sum() + out.nodes.sin().sum()).backward()
    for pname, param in encoder.module.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, pname


def triplet_task(seed: int, count: int):
    """DSGs of 4 SGs over the same 4 entities; SG m holds one relation. Task: which SG holds a given triplet?"""
    rng = random.Random(seed)
    entities, predicates = ["man", "dog", "ball", "tree"], ["chasing", "holding", "near", "behind", "kicking"]
    dsgs, queries, targets = [], [], []
    for _ in range(count):
        triplets = []
        while len(triplets) < 4:
            s, o = rng.sample(entities, 2)
            if (t := (s, rng.choice(predicates), o)) not in triplets:
                triplets.append(t)
        dsgs.append(DynamicSceneGraph(prompt="toy", frames=[sg(entities, [t]) for t in triplets]))
        target = rng.randrange(4)
        queries.append(" ".join(triplets[target]))
        targets.append(target)
    return dsgs, queries, torch.tensor(targets)


@pytest.mark.slow
@pytest.mark.parametrize("name", ENCODERS)
def test_tiny_model_overfits_which_sg_holds_a_triplet(registry, text_encoder, name):
    torch.manual_seed(0)
    encoder = make(registry, text_encoder, name, width=32, heads=4, layers=2)
    encoder.module.train()
    dsgs, queries, targets = triplet_task(seed=0, count=48)
    query_head = torch.nn.Linear(text_encoder.dim, 32)
    query_vectors = text_encoder.embed(queries)  # (B, 16)
    params = [*encoder.module.parameters(), *query_head.parameters()]
    optimizer = torch.optim.Adam(params, lr=3e-3)
    losses = []
    for _ in range(100):
        pooled = encoder.encode(dsgs).pooled  # (B, M, d)
        logits = torch.einsum("bmd,bd->bm", pooled, query_head(query_vectors))  # (B, M)
        loss = torch.nn.functional.cross_entropy(logits, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    first, last = losses[0], sum(losses[-10:]) / 10
    assert first > 1.0  # about ln 4 = 1.39 at chance
    assert last < 0.1 * first, f"{name} loss went from {first:.3f} to {last:.3f}"


# --- dtypes, caching, checkpoints ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ENCODERS)
def test_bfloat16_agrees_with_float32(registry, text_encoder, name):
    fp32 = encode(make(registry, text_encoder, name), [lady_dsg(), small_dsg()])
    bf16 = encode(make(registry, text_encoder, name, dtype="bfloat16"), [lady_dsg(), small_dsg()])
    assert bf16.pooled.dtype == torch.bfloat16
    torch.testing.assert_close(bf16.pooled.float(), fp32.pooled, rtol=0.05, atol=0.05)
    torch.testing.assert_close(bf16.nodes.float(), fp32.nodes, rtol=0.05, atol=0.08)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", ENCODERS)
def test_cuda_agrees_with_cpu(registry, text_encoder, name):
    cpu = encode(make(registry, text_encoder, name), [lady_dsg(), small_dsg()])
    gpu = encode(make(registry, text_encoder, name, device="cuda"), [lady_dsg(), small_dsg()])
    assert gpu.pooled.device.type == "cuda" and gpu.node_mask.device.type == "cuda"
    torch.testing.assert_close(gpu.to("cpu").nodes, cpu.nodes, rtol=1e-4, atol=1e-4)
    bf16 = encode(make(registry, text_encoder, name, device="cuda", dtype="bfloat16"), [lady_dsg(), small_dsg()])
    torch.testing.assert_close(bf16.to("cpu", torch.float32).pooled, cpu.pooled, rtol=0.05, atol=0.05)


def test_features_cache_through_safetensors(registry, text_encoder, tmp_path):
    out = make(registry, text_encoder).encode([lady_dsg()])
    cached = out.detach()
    assert not cached.pooled.requires_grad
    save_file(cached.to_dict(), tmp_path / "features.safetensors")
    back = GraphFeatures.from_dict(load_file(tmp_path / "features.safetensors"))
    for field in GraphFeatures.FIELDS:
        assert torch.equal(getattr(back, field), getattr(cached, field))
    assert back.to(dtype=torch.bfloat16).node_mask.dtype == torch.bool


@pytest.mark.parametrize("name", ENCODERS)
def test_checkpoint_round_trip_and_mismatch(registry, text_encoder, name, tmp_path):
    trained = make(registry, text_encoder, name, seed=1)
    path = str(tmp_path / "encoder.safetensors")
    trained.save(path)
    loaded = make(registry, text_encoder, name, seed=2, checkpoint=path)
    assert torch.equal(encode(trained, [lady_dsg()]).pooled, encode(loaded, [lady_dsg()]).pooled)
    with pytest.raises(InputError, match="does not fit these options"):
        make(registry, text_encoder, name, width=64, checkpoint=path)
    with pytest.raises(InputError, match="not a readable safetensors file"):
        make(registry, text_encoder, name, checkpoint=str(tmp_path / "missing.safetensors"))


# --- bad and edge-case input ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENCODERS)
def test_unusual_graphs_give_finite_outputs(registry, text_encoder, name):
    encoder = make(registry, text_encoder, name)
    no_relations = DynamicSceneGraph(prompt="still", frames=[sg(["cat"]), sg(["cat"], attributes=[("cat", "asleep")])])
    self_loop = [("cat", "on", "mat"), ("cat", "licking", "cat")]
    single = DynamicSceneGraph(prompt="one", frames=[sg(["cat", "mat"], self_loop)])
    empty_sg = DynamicSceneGraph(prompt="gone", frames=[sg(["cat"]), sg([])])
    people = [f"person {i}" for i in range(200)]
    line = [(a, "next to", b) for a, b in zip(people, people[1:])]
    crowd = DynamicSceneGraph(prompt="a crowd", frames=[sg(people, line)])
    out = encode(encoder, [no_relations, single, empty_sg, crowd])
    assert out.nodes.shape[:3] == (4, 2, 200)
    assert torch.isfinite(out.pooled).all() and torch.isfinite(out.nodes).all()
    assert out.pooled[2, 1].abs().max() == 0  # an SG with no nodes pools to zeros, not NaN
    assert out.pooled[0].abs().sum(-1).min() > 0


def test_bad_input_gives_clear_errors(registry, text_encoder):
    encoder = make(registry, text_encoder, max_nodes=10)
    with pytest.raises(InputError, match="over max_nodes=10"):
        encoder.encode([DynamicSceneGraph(prompt="crowd", frames=[sg([f"p{i}" for i in range(11)])])])
    with pytest.raises(InputError, match="empty batch"):
        encoder.encode([])
    with pytest.raises(InputError, match="wrap a single DSG in a list"):
        encoder.encode(lady_dsg())

    class NaNEncoder:
        name, dim = "nan-maker", 16

        def embed(self, texts):
            return torch.full((len(texts), 16), float("nan"))

        def tokens(self, texts):
            raise AssertionError("not used")

    with pytest.raises(PluginError, match=r"text_encoder 'nan-maker' returned NaN or inf for label 'lady'"):
        make(registry, NaNEncoder()).encode([lady_dsg()])
