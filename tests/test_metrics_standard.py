"""Standard metrics (App. B.1): Fréchet distance, KVD, IS, the feature networks, FVD/FID/IS/CLIPSIM/shapes-FVD components."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from scipy import linalg
from torch import nn

from dysen_core.errors import ConfigError, InputError
from dysen_core.metrics.feature_nets import I3D, InceptionV3, load_i3d, load_inception
from dysen_core.metrics.frechet import GaussianStats, frechet_distance, polynomial_mmd
from dysen_core.metrics.shapes_features import DEFAULT_WEIGHTS, LABELS, clip_labels, load_shapes_features
from dysen_core.metrics.standard import InceptionScoreStats
from dysen_core.registry import Registry
from dysen_core.shapes import ShapesConfig, generate_clip


def _gaussian(rng: np.random.Generator, d: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.normal(size=(d, d))
    return rng.normal(size=d), a @ a.T / d + 0.1 * np.eye(d)


def _scipy_reference(mu1, s1, mu2, s2) -> float:
    root = linalg.sqrtm(s1 @ s2).real
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(root))


@pytest.mark.parametrize("d", [1, 5, 32])
def test_frechet_distance_matches_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    (mu1, s1), (mu2, s2) = _gaussian(rng, d), _gaussian(rng, d)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_scipy_reference(mu1, s1, mu2, s2), rel=1e-6)


def test_frechet_distance_is_zero_for_identical_stats_and_closed_form_for_diagonal():
    rng = np.random.default_rng(0)
    mu, s = _gaussian(rng, 16)
    assert frechet_distance(mu, s, mu, s) == pytest.approx(0.0, abs=1e-9)
    a, b = rng.uniform(0.1, 3, 6), rng.uniform(0.1, 3, 6)
    m1, m2 = rng.normal(size=6), rng.normal(size=6)
    expected = ((m1 - m2) ** 2).sum() + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert frechet_distance(m1, np.diag(a), m2, np.diag(b)) == pytest.approx(expected, rel=1e-10)
    singular = rng.normal(size=(3, 10))  # 3 samples in 10-d: rank-2 covariance, still finite and exact
    stats = GaussianStats()
    stats.add(singular)
    assert frechet_distance(stats.mean, stats.covariance, stats.mean, stats.covariance) == pytest.approx(0.0, abs=1e-9)
    with pytest.raises(InputError, match="matching shapes"):
        frechet_distance(m1, np.diag(a), m2[:3], np.diag(b[:3]))


def test_streaming_stats_equal_batch_stats_even_far_from_zero():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 7)) + 1e4  # large offset: a naive Σxxᵀ − Nμμᵀ would lose digits
    whole = GaussianStats()
    whole.add(x)
    left, right = GaussianStats(), GaussianStats()
    for chunk in np.array_split(x[:120], 7):
        left.add(chunk)
    right.add(x[120:])
    merged = left.merge(right)
    for stats in (whole, merged):
        np.testing.assert_allclose(stats.mean, x.mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(stats.covariance, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-9)
    with pytest.raises(InputError, match="at least 2 samples"):
        GaussianStats().covariance


def _direct_mmd(x: np.ndarray, y: np.ndarray) -> float:
    d, m, n = x.shape[1], len(x), len(y)
    k = lambda a, b: (a @ b / d + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(n)) / (m * n)
    return xx + yy - 2 * xy


def test_polynomial_mmd_is_unbiased_and_matches_the_direct_formula():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(30, 4)) + 0.5
    assert polynomial_mmd(x, y, subsets=1, subset_size=30)[0] == pytest.approx(_direct_mmd(x, y), rel=1e-9)
    same = polynomial_mmd(rng.normal(size=(400, 8)), rng.normal(size=(400, 8)), subsets=20, subset_size=200)
    shifted = polynomial_mmd(rng.normal(size=(400, 8)), rng.normal(size=(400, 8)) + 1.0, subsets=20, subset_size=200)
    assert abs(same[0]) < 0.02 < 0.5 < shifted[0]
    with pytest.raises(InputError, match="at least 2 videos"):
        polynomial_mmd(x[:1], y)


def test_inception_score_is_one_for_a_constant_class_and_k_for_k_confident_classes():
    one_hot = np.zeros((40, 10))
    one_hot[:, 3] = 1
    stats = InceptionScoreStats(splits=4)
    stats.add(one_hot)
    assert stats.scores() == pytest.approx((1.0, 0.0))
    k, splits = 5, 2
    logits = 50.0 * np.eye(10)[[(i // splits) % k for i in range(60)]]  # confident, uniform over 5 classes per split
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    stats = InceptionScoreStats(splits=splits)
    for chunk in np.array_split(probs / probs.sum(axis=1, keepdims=True), 7):  # streamed in uneven chunks
        stats.add(chunk)
    mean, std = stats.scores()
    assert mean == pytest.approx(k, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)


# --- feature networks with seeded random weights -------------------------------------------------------------


def _seeded(net: nn.Module, seed: int = 0) -> nn.Module:
    """He-initialised convolutions, so random features are O(1) rather than vanishing."""
    torch.manual_seed(seed)
    for module in net.modules():
        if isinstance(module, nn.Conv2d | nn.Conv3d):
            nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    return net


@pytest.fixture(scope="module")
def i3d_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("i3d") / "i3d.safetensors"
    save_file(_seeded(I3D()).state_dict(), str(path))
    return path


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("inception") / "inception.safetensors"
    save_file(_seeded(InceptionV3()).state_dict(), str(path))
    return path


@pytest.fixture
def registry(core_manager):
    return Registry.from_manager(core_manager)


def _videos(seed: int, n: int, frames: int = 16, size: int = 32) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(n, 1, size, size, 3))
    drift = np.arange(frames)[None, :, None, None, None] * rng.integers(1, 6, size=(n, 1, 1, 1, 3))
    return list(((base + drift) % 256).astype(np.uint8))


@pytest.mark.slow
def test_architectures_give_the_expected_shapes(i3d_file, inception_file):
    inception = load_inception(inception_file)
    with torch.inference_mode():
        out = inception(torch.rand(2, 3, 75, 75) * 2 - 1)
    assert out.pool.shape == (2, 2048) and out.logits.shape == (2, 1008)
    i3d = load_i3d(i3d_file)
    with torch.inference_mode():
        out = i3d(torch.rand(1, 3, 16, 32, 32) * 2 - 1)
    assert out.pool.shape == (1, 1024) and out.logits.shape == (1, 400)
    assert {"Conv3d_1a_7x7.bn.running_var", "Mixed_5c.b3b.conv3d.weight", "logits.conv3d.bias"} <= set(i3d.state_dict())
    # torchvision lists 27,161,264 parameters for inception_v3 with its 3,326,696-parameter auxiliary head
    assert sum(p.numel() for p in InceptionV3(num_classes=1000, fid_blocks=False).parameters()) == 27_161_264 - 3_326_696


@pytest.mark.slow
def test_fvd_is_zero_on_the_same_set_grows_with_noise_and_ignores_batching(registry, i3d_file):
    videos, others = _videos(0, 4), _videos(5, 4)
    rng = np.random.default_rng(1)
    fvd = registry.create("metric", "fvd", {"weights": str(i3d_file), "resolution": 32, "batch_size": 3})
    scores = []
    for sigma in (0, 20, 60):
        fvd.reset()
        for v in videos:
            fvd.update(np.clip(v + rng.normal(0, sigma, v.shape), 0, 255).astype(np.uint8), v)
        scores.append(fvd.compute()["fvd"])
    assert scores[0] == pytest.approx(0.0, abs=1e-6) and scores[0] < scores[1] < scores[2]
    one_by_one = registry.create("metric", "fvd", {"weights": str(i3d_file), "resolution": 32, "batch_size": 1})
    kvd = registry.create("metric", "kvd", {"weights": str(i3d_file), "resolution": 32, "feature": "pool", "subsets": 5})
    fvd.reset()
    for metric in (fvd, one_by_one, kvd):
        for v, w in zip(videos, others):
            metric.update(v, w)
    assert one_by_one.compute()["fvd"] == pytest.approx(fvd.compute()["fvd"], rel=1e-4)
    assert set(kvd.compute()) == {"kvd", "kvd_std"}
    with pytest.raises(InputError, match="at least 16 frames"):
        fvd.update(videos[0][:8], videos[0])


@pytest.mark.slow
def test_fid_and_inception_score_run_on_frames(registry, inception_file):
    videos = _videos(3, 2, frames=2, size=16)
    options = {"weights": str(inception_file), "resolution": 75, "batch_size": 3}
    fid = registry.create("metric", "fid", options)
    score = registry.create("metric", "inception-score", {**options, "splits": 2})
    for v in videos:
        fid.update(v, v)
        score.update(v)
    assert fid.compute()["fid"] == pytest.approx(0.0, abs=1e-6)
    assert 1.0 <= score.compute()["inception_score"] <= 1008


class _StandInDetector(nn.Module):
    """Has the call signature of the common ``i3d_torchscript.pt``; returns 400 made-up features."""

    def forward(self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False) -> torch.Tensor:
        return x.mean(dim=(1, 3, 4)).repeat(1, 25)


def test_fvd_reads_a_torchscript_detector(registry, tmp_path):
    path = tmp_path / "i3d_torchscript.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is deprecated; the common detector is TorchScript
        torch.jit.script(_StandInDetector()).save(str(path))
    fvd = registry.create("metric", "fvd", {"weights": str(path), "resolution": 32})
    for v, w in zip(_videos(0, 3), _videos(1, 3)):
        fvd.update(v, w)
    assert fvd.compute()["fvd"] > 0
    with pytest.raises(ConfigError, match="feature=pool needs I3D .safetensors"):
        registry.create("metric", "fvd", {"weights": str(path), "feature": "pool"})


@pytest.mark.parametrize(("name", "needs"), [("fvd", "I3D"), ("kvd", "I3D"), ("fid", "Inception-v3"),
                                             ("inception-score", "Inception-v3"), ("clipsim", "CLIP")])
def test_missing_weights_name_the_option_and_the_file(registry, name, needs):
    with pytest.raises(ConfigError, match=rf"^{name} needs {needs} weights: pass metric option `weights: /path/to/"):
        registry.create("metric", name)


def test_unusable_weights_and_inputs_are_user_errors(registry, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        registry.create("metric", "fid", {"weights": str(tmp_path / "nope.safetensors")})
    wrong = tmp_path / "wrong.safetensors"
    save_file({"fc.weight": torch.zeros(3, 2)}, str(wrong))
    with pytest.raises(ConfigError, match="does not hold Inception-v3 weights: missing keys"):
        registry.create("metric", "fid", {"weights": str(wrong)})
    with pytest.raises(ConfigError, match="metric.options.resolution"):
        registry.create("metric", "fid", {"resolution": 40})
    shapes = registry.create("metric", "shapes-fvd")
    with pytest.raises(InputError, match=r"uint8 video array \(F, H, W, 3\), got float64"):
        shapes.update(np.zeros((16, 64, 64, 3)), np.zeros((16, 64, 64, 3), np.uint8))
    with pytest.raises(ConfigError, match="not a torch device"):
        registry.create("metric", "shapes-fvd", {"device": "gpu0"})


# --- the project's shapes feature network ----------------------------------------------------------------------


def test_shipped_shapes_network_has_its_record_and_labels():
    net = load_shapes_features()
    assert DEFAULT_WEIGHTS.stat().st_size < 2 * 2**20
    assert net.frames == 16 and net.size == 64
    record, _ = generate_clip(ShapesConfig(), 7, 0)
    labels = clip_labels(record)
    assert labels.shape == (len(LABELS),) and labels.sum() >= 2
    from safetensors import safe_open

    with safe_open(str(DEFAULT_WEIGHTS), framework="pt") as handle:
        training = json.loads(handle.metadata()["training"])
    assert training["held_out"]["label_accuracy"] > 0.85


def test_shapes_fvd_separates_real_clips_from_shuffled_frames(registry):
    config, rng = ShapesConfig(), np.random.default_rng(0)
    clips = [generate_clip(config, 99, i)[1] for i in range(256)]  # seed 99: not the training data
    real, shuffled = registry.create("metric", "shapes-fvd"), registry.create("metric", "shapes-fvd")
    for a, b in zip(clips[:128], clips[128:]):  # 128 a side: fewer and the small-sample bias of 128-d FD dominates
        real.update(b, a)
        shuffled.update(b[rng.permutation(len(b))], a)
    same, mixed = real.compute()["shapes_fvd"], shuffled.compute()["shapes_fvd"]
    assert mixed > 2 * same


def test_shapes_fvd_stretches_short_clips_by_repeating_frames(registry):
    clips = [generate_clip(ShapesConfig(frames=8, units=2, size=48), 5, i)[1] for i in range(3)]
    short, doubled = registry.create("metric", "shapes-fvd"), registry.create("metric", "shapes-fvd")
    for clip, other in zip(clips, clips[1:] + clips[:1]):
        short.update(clip, other)
        doubled.update(np.repeat(clip, 2, axis=0), np.repeat(other, 2, axis=0))
    assert short.compute()["shapes_fvd"] == pytest.approx(doubled.compute()["shapes_fvd"], rel=1e-6)


def test_standard_metrics_are_registered(registry):
    assert {"fvd", "kvd", "fid", "inception-score", "clipsim", "shapes-fvd"} <= set(registry.names("metric"))
    with pytest.raises(ConfigError, match="metric.options.colour"):
        registry.create("metric", "shapes-fvd", {"colour": 3})


# --- CLIPSIM with a tiny random CLIP ---------------------------------------------------------------------------


@pytest.fixture
def clip_folder(tmp_path):
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    config = CLIPConfig(
        text_config={"vocab_size": 60, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1},
        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                       "image_size": 32, "patch_size": 8},
        projection_dim=8,
    )
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(tmp_path)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in "abcdefghijklmnopqrstuvwxyz":
        vocab[c], vocab[c + "</w>"] = len(vocab), len(vocab) + 1
    (tmp_path / "vocab.json").write_text(json.dumps(vocab))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt")).save_pretrained(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_clipsim_is_100_times_the_mean_frame_prompt_cosine(registry, clip_folder):
    metric = registry.create("metric", "clipsim", {"weights": str(clip_folder), "batch_size": 3})
    videos, prompts = _videos(0, 2, frames=2, size=40), ["a red circle jumps", "a blue square spins"]
    for video, prompt in zip(videos, prompts):
        metric.update(video, prompt)
    encoder = metric._encoder
    with torch.inference_mode():
        frame_cos = [(encoder(torch.from_numpy(v)) @ encoder.text(p)).tolist() for v, p in zip(videos, prompts)]
    assert metric.compute()["clipsim"] == pytest.approx(100 * np.mean(frame_cos), rel=1e-5)
    with pytest.raises(InputError, match="prompt string"):
        metric.update(videos[0], None)
