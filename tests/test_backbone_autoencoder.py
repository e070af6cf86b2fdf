"""The Stage I frame autoencoder: shapes, per-frame independence, chunking, safetensors round trip, errors, training."""

from __future__ import annotations

import pytest
import torch
from dysen_plugin_backbone_vdm.autoencoder import AutoencoderOptions, FrameAutoencoder, foreground

from dysen_core.errors import ConfigError, InputError

TINY = {"block_channels": [32, 32], "layers_per_block": 1}  # downsample 2, a few thousand weights


@pytest.fixture(scope="module")
def tiny() -> FrameAutoencoder:
    return FrameAutoencoder.from_options(AutoencoderOptions(**TINY))


def clip(batch: int = 1, frames: int = 3, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Random frames in [-1, 1], each different: (B, F, 3, H, W)."""
    return torch.rand(batch, frames, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def test_shapes(tiny):
    assert tiny.downsample == 2 and tiny.latent_channels == 4
    with torch.no_grad():
        latents = tiny.encode(clip(batch=2), generator=torch.Generator().manual_seed(0))
        assert latents.shape == (2, 4, 3, 16, 16)  # (B, C, F, h, w)
        video = tiny.decode(latents)
    assert video.shape == (2, 3, 3, 32, 32)  # (B, F, 3, H, W)
    assert video.min() >= -1 and video.max() <= 1


def test_four_levels_downsample_by_8():
    assert len(AutoencoderOptions().block_channels) == 4  # the SD layout: 256×256 → 32×32×4, paper §5.1
    narrow = FrameAutoencoder.from_options(AutoencoderOptions(block_channels=[32] * 4, layers_per_block=1))
    assert narrow.downsample == 8
    with torch.no_grad():
        assert narrow.encode(clip(frames=1), sample=False).shape == (1, 4, 1, 4, 4)


def test_decode_chunk_does_not_change_results(tiny):
    video = clip(frames=4)
    with torch.no_grad():
        latents = tiny.encode(video, sample=False)
        one = FrameAutoencoder(tiny.vae, tiny.options.model_copy(update={"decode_chunk": 1}))
        assert torch.allclose(one.encode(video, sample=False), latents, atol=1e-5)
        assert torch.allclose(one.decode(latents), tiny.decode(latents), atol=1e-5)


def test_frames_are_encoded_alone_and_in_order(tiny):
    video = clip(frames=4)
    with torch.no_grad():
        latents = tiny.encode(video, sample=False)
        for k in range(4):
            alone = tiny.encode(video[:, k : k + 1], sample=False)  # (1, C, 1, h, w)
            assert torch.allclose(alone[:, :, 0], latents[:, :, k], atol=1e-5)


def test_save_and_load_round_trip(tiny, tmp_path):
    folder = tiny.save_pretrained(tmp_path / "vae")
    names = {p.name for p in folder.iterdir()}
    assert any(n.endswith(".safetensors") for n in names)
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)
    loaded = FrameAutoencoder.from_pretrained(folder, tiny.options)  # same chunks: bit-identical
    video = clip()
    with torch.no_grad():
        latents = tiny.encode(video, sample=False)
        assert torch.equal(loaded.encode(video, sample=False), latents)
        assert torch.equal(loaded.decode(latents), tiny.decode(latents))
    reopened = FrameAutoencoder.from_options(AutoencoderOptions(pretrained=str(folder), scaling_factor=0.5))
    assert reopened.vae.config.scaling_factor == 0.5  # an explicit scaling_factor overrides the folder's
    same = FrameAutoencoder.from_options(AutoencoderOptions(pretrained=str(folder), **TINY))  # one config, both stages
    assert list(same.vae.config.block_out_channels) == TINY["block_channels"]
    with pytest.raises(ConfigError, match=r"block_channels: config \[32, 64\], pretrained VAE \[32, 32\]"):
        FrameAutoencoder.from_options(AutoencoderOptions(pretrained=str(folder), block_channels=[32, 64]))


def test_calibrate_scale_gives_unit_variance_latents(tiny):
    videos = [clip(), clip() * 0.5]
    factor = tiny.calibrate_scale(videos)
    assert tiny.vae.config.scaling_factor == factor
    with torch.no_grad():
        latents = torch.cat([tiny.encode(v, sample=False).flatten() for v in videos])
    assert latents.std().item() == pytest.approx(1.0, rel=1e-4)


def test_missing_pretrained_folder_names_the_path(tmp_path):
    missing = tmp_path / "no-such-vae"
    with pytest.raises(InputError, match=f"'{missing}' not found"):
        FrameAutoencoder.from_options(AutoencoderOptions(pretrained=str(missing)))


def test_pretrained_folder_without_weights(tmp_path):
    with pytest.raises(InputError, match="has no config.json; expected a diffusers AutoencoderKL folder"):
        FrameAutoencoder.from_pretrained(tmp_path)


def test_bad_video_shapes(tiny):
    with pytest.raises(InputError, match=r"frame size 31×32 is not a multiple of the VAE's downsample factor 2"):
        tiny.encode(torch.zeros(1, 2, 3, 31, 32))
    with pytest.raises(InputError, match=r"video has shape \(1, 2, 4, 32, 32\); expected \(B, F, 3, H, W\)"):
        tiny.encode(torch.zeros(1, 2, 4, 32, 32))


def test_option_errors():
    with pytest.raises(ValueError, match="block_channels is empty"):
        AutoencoderOptions(block_channels=[])
    with pytest.raises(ValueError, match=r"block_channels \[48\] are not positive multiples of 32"):
        AutoencoderOptions(block_channels=[32, 48])
    with pytest.raises(ConfigError, match="LPIPS weights are not available offline"):
        AutoencoderOptions(perceptual_weight=0.1)


def test_from_options_leaves_the_callers_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = FrameAutoencoder.from_options(AutoencoderOptions(**TINY, seed=7))
    assert torch.equal(torch.rand(3), expected)
    second = FrameAutoencoder.from_options(AutoencoderOptions(**TINY, seed=7))
    assert all(torch.equal(a, b) for a, b in zip(first.vae.parameters(), second.vae.parameters()))  # seeded


def test_stage1_training_lowers_the_loss():
    ae = FrameAutoencoder.from_options(AutoencoderOptions(**TINY))
    ae.vae.train()
    y, x = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    video = torch.stack([torch.stack([0.8 * x, 0.8 * y, 0.8 * torch.sin(3 * (x + y) + f)]) for f in range(2)])[None]  # smooth
    optimizer = torch.optim.Adam(ae.vae.parameters(), lr=1e-3)
    losses = []
    for step in range(30):
        loss, parts = ae.stage1_loss(video, generator=torch.Generator().manual_seed(step))
        assert set(parts) == {"recon", "kl"}
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(p.grad is not None for p in ae.vae.encoder.parameters())  # the loss reaches the encoder
    # Measured: the loss falls about 5.8× in 30 steps (0.51 → 0.087); assert a conservative 2×.
    assert losses[-1] < losses[0] / 2


def test_sample_posterior_false_decodes_the_mean():
    video = clip()
    for sample, same in ((True, False), (False, True)):
        ae = FrameAutoencoder.from_options(AutoencoderOptions(**TINY, sample_posterior=sample))
        with torch.no_grad():
            first, _ = ae.stage1_loss(video, generator=torch.Generator().manual_seed(0))
            second, _ = ae.stage1_loss(video, generator=torch.Generator().manual_seed(1))
        assert torch.equal(first, second) is same  # the posterior's noise is the only randomness


def test_foreground_is_what_differs_from_the_frames_median_colour():
    frames = torch.full((2, 3, 8, 8), -0.5)
    frames[0, 2, 1:3, 1:3] = 0.9  # a 2×2 blue square on grey
    frames[1] = 0.3  # a plain frame of another colour
    frames[1, 0, 5, 5] = 0.34  # within the tolerance: still background
    mask = foreground(frames)
    assert mask.shape == (2, 1, 8, 8)
    assert mask[0, 0, 1:3, 1:3].all() and mask[0].sum() == 4
    assert mask[1].sum() == 0


def test_foreground_weight_scales_only_the_objects_error():
    video = torch.full((1, 2, 3, 32, 32), -0.5)
    video[:, :, :, 4:10, 4:10] = 0.8  # a small square, 3.5 % of the pixels
    losses = {}
    for weight in (0.0, 9.0):
        ae = FrameAutoencoder.from_options(AutoencoderOptions(**TINY, sample_posterior=False, kl_weight=0,
                                                              foreground_weight=weight))
        with torch.no_grad():
            recon = ae.vae.decode(ae.vae.encode(video[0]).latent_dist.mode()).sample
            losses[weight] = ae.stage1_loss(video)[0].item()
    error = (recon - video[0]).abs()
    square = error[:, :, 4:10, 4:10].sum() / error.numel()
    assert losses[0.0] == pytest.approx(error.mean().item(), rel=1e-5)
    assert losses[9.0] == pytest.approx(losses[0.0] + 9.0 * square.item(), rel=1e-5)
