"""The 3D-UNet (issue 5, part 2): shapes, eq. 11 at init, eq. 12's causal mask, eq. 6's DSG branch, baseline."""

import pytest
import torch
from dysen_plugin_backbone_vdm.layers import TemporalAttention, attention_reference, causal_mask
from dysen_plugin_backbone_vdm.unet import UNet3D, UNetConfig

from dysen_core.errors import InputError
from dysen_core.graph_features import GraphFeatures

TINY = dict(channels=[16, 32], heads=2, groups=4, text_dim=8, layers_per_level=1, max_frames=16)


def tiny(seed=0, **overrides):
    torch.manual_seed(seed)
    return UNet3D(UNetConfig(**(TINY | {"graph_dim": 6} | overrides))).eval()


def randomize_zero_init(model):
    """Zero-initialised output layers would hide bugs: give every parameter random values."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return model


def features(b=2, m=3, n=4, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    node_mask = torch.rand(b, m, n, generator=g) > 0.3
    return GraphFeatures(torch.randn(b, m, d, generator=g), torch.randn(b, m, n, d, generator=g) * node_mask[..., None],
                         node_mask, torch.ones(b, m, dtype=torch.bool))


def inputs(model, frames, b=2, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(b, 4, frames, size, size, generator=g)
    text = model.text_context(torch.randn(b, 5, 8, generator=g), torch.ones(b, 5, dtype=torch.bool), frames)
    return z, torch.tensor([3, 700])[:b], text


@pytest.mark.parametrize("frames", [8, 16])
def test_output_has_the_input_shape(frames):
    model = randomize_zero_init(tiny())
    z, t, text = inputs(model, frames)
    out = model(z, t, text, model.graph_context(features(), frames))
    assert out.shape == z.shape and torch.isfinite(out).all()


def test_eq11_frame_affine_is_the_identity_at_init():
    model = tiny()
    affines = [m for name, m in model.named_modules() if name.endswith(("affine1", "affine2"))]
    assert affines and all((a.weight == 1).all() and (a.bias == 0).all() for a in affines)
    x = torch.randn(2 * 8, 16, 4, 4)
    assert torch.equal(affines[0](x, 8), x)


def test_eq12_causal_mask_is_additive_minus_infinity_above_the_diagonal():
    mask = causal_mask(4, torch.device("cpu"), torch.float32)
    assert (mask.tril() == 0).all() and torch.isinf(mask.triu(1)[mask.triu(1) != 0]).all()
    assert mask[0, 1] == float("-inf") and mask[3, 0] == 0


def test_temporal_attention_never_sees_the_future():
    torch.manual_seed(0)
    block = randomize_zero_init(TemporalAttention(16, 2, 16, 4))
    frames, j = 8, 5
    x = torch.randn(frames, 16, 3, 3)  # (B·F, C, H, W) with B = 1
    changed = x.clone()
    changed[j] += torch.randn(16, 3, 3) * 5
    a, b = block(x, frames), block(changed, frames)
    assert torch.equal(a[:j], b[:j])  # frames before j are untouched, bit for bit
    assert not torch.allclose(a[j:], b[j:])


def test_bidirectional_temporal_attention_lets_every_frame_see_every_frame():
    torch.manual_seed(0)
    block = randomize_zero_init(TemporalAttention(16, 2, 16, 4, causal=False))
    x = torch.randn(8, 16, 3, 3)
    changed = x.clone()
    changed[7] += torch.randn(16, 3, 3) * 5  # the last frame
    a, b = block(x, 8), block(changed, 8)
    assert all(not torch.allclose(a[f], b[f]) for f in range(8))  # the first frame reads the last one too
    unet = tiny(temporal_causal=False)
    assert not any(m.causal for m in unet.modules() if isinstance(m, TemporalAttention))


def test_fast_attention_matches_the_written_out_softmax():
    q, k, v = (torch.randn(3, 2, 6, 4, generator=torch.Generator().manual_seed(i)) for i in range(3))
    mask = causal_mask(6, torch.device("cpu"), torch.float32)
    fast = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(fast, attention_reference(q, k, v, mask), atol=1e-6)


def test_without_dsg_input_the_model_is_the_latent_vdm_baseline():
    dysen = randomize_zero_init(tiny())
    baseline = UNet3D(UNetConfig(**(TINY | {"graph_dim": None}))).eval()
    missing, unexpected = baseline.load_state_dict(dysen.state_dict(), strict=False)
    assert not missing and unexpected and all("graph" in k for k in unexpected)
    z, t, text = inputs(dysen, 8)
    assert torch.equal(dysen(z, t, text, None), baseline(z, t, text))
    assert not torch.allclose(dysen(z, t, text, dysen.graph_context(features(), 8)), baseline(z, t, text))


def test_dsg_branch_starts_silent_so_it_can_be_added_to_a_trained_baseline():
    model = tiny()
    for name, p in model.named_parameters():
        if "graph_attn.to_out" in name:
            assert (p == 0).all()


def test_temporal_attention_can_sit_at_levels_without_spatial_attention_and_stays_causal():
    model = randomize_zero_init(tiny(attention=[False, True], temporal_attention=[True, True]))
    top = model.down[0]  # level 0: 8x8 latents
    assert top.spatial is None and top.temporal is not None
    z, t, text = inputs(model, 8)
    graph = model.graph_context(features(), 8)
    changed = z.clone()
    changed[:, :, 5] += 2.0  # only frame 5's latents change
    a, b = model(z, t, text, graph), model(changed, t, text, graph)
    assert torch.equal(a[:, :, :5], b[:, :, :5]) and not torch.allclose(a[:, :, 5:], b[:, :, 5:])


def test_temporal_attention_defaults_to_the_attention_levels():
    model = tiny(attention=[False, True])
    assert [b.temporal is not None for b in model.down if hasattr(b, "temporal")] == [False, True]


def test_each_frame_reads_its_own_scene_graph():
    model = randomize_zero_init(tiny())
    feats = features(b=1, m=2)
    ctx = model.graph_context(feats, 8)
    assert ctx.frame_group.tolist() == [[0, 0, 0, 0, 1, 1, 1, 1]]  # m = floor(f·M/F), DESIGN.md decision 1
    z, t, text = inputs(model, 8, b=1)
    changed = GraphFeatures(feats.pooled.clone(), feats.nodes.clone(), feats.node_mask, feats.sg_mask)
    changed.pooled[0, 1] += 3.0  # change only SG 1, read by frames 4-7
    out_a = model(z, t, text, ctx)
    out_b = model(z, t, text, model.graph_context(changed, 8))
    # causal temporal attention: frames 0-3 cannot see frames 4-7, and read SG 0, so they do not change
    assert torch.allclose(out_a[:, :, :4], out_b[:, :, :4], atol=1e-6)
    assert not torch.allclose(out_a[:, :, 4:], out_b[:, :, 4:])


def test_dropped_conditions_use_the_learned_null_tokens():
    model = tiny()
    tokens, mask = torch.randn(2, 5, 8), torch.ones(2, 5, dtype=torch.bool)
    ctx = model.text_context(tokens, mask, 4, drop=torch.tensor([True, False]))
    assert (ctx.tokens[0] == model.null_text.detach()).all() and ctx.mask[0].all()  # L copies = one null token
    assert torch.equal(ctx.tokens[1, 0], tokens[1])
    no_dsg = model.graph_context(None, 4, batch=3)
    assert no_dsg.tokens.shape == (3, 1, 1, 6) and torch.equal(no_dsg.tokens[0, 0, 0], model.null_graph.detach())


def test_a_null_row_is_the_same_whatever_its_length():
    model = randomize_zero_init(tiny())
    z, t, _ = inputs(model, 4, b=1)
    outs = [model(z, t, model.text_context(torch.randn(1, n, 8), torch.ones(1, n, dtype=torch.bool), 4, drop=torch.tensor([True])))
            for n in (1, 7)]
    assert torch.allclose(outs[0], outs[1], atol=1e-5)


def test_gradient_checkpointing_gives_the_same_gradients():
    grads = []
    for checkpointing in (False, True):
        model = randomize_zero_init(tiny(gradient_checkpointing=checkpointing)).train()
        z, t, text = inputs(model, 4)
        model(z, t, text, model.graph_context(features(), 4)).square().mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]))
    assert torch.allclose(grads[0], grads[1], atol=1e-5)


def test_bad_geometry_is_a_clear_error():
    model = tiny()
    z, t, text = inputs(model, 17)
    with pytest.raises(InputError, match="17 frames exceed this model's max_frames"):
        model(z, t, text)
    z, t, text = inputs(model, 4, size=7)
    with pytest.raises(InputError, match="not a multiple of 2"):
        model(z, t, text)


def test_config_errors_name_the_problem():
    with pytest.raises(ValueError, match="multiple of heads"):
        UNetConfig(channels=[30], heads=4, groups=2)
    with pytest.raises(ValueError, match="attention has 1 entries"):
        UNetConfig(channels=[32, 64], attention=[True], groups=8)
    with pytest.raises(ValueError, match="temporal_attention has 3 entries"):
        UNetConfig(channels=[32, 64], temporal_attention=[True, True, False], groups=8)
