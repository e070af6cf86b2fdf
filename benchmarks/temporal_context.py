"""How much a backbone's denoiser reads the other frames of a clip (issue 8; docs/results.md).

Usage:
    .venv/bin/python benchmarks/temporal_context.py [--checkpoint FOLDER] [--data data/shapes-8f] [--clips 24]
        [--set KEY=VALUE ...] [--out benchmarks/results/temporal_context.json]

Noises the first ``--clips`` test clips to several diffusion steps and measures the squared error of the UNet's
estimate of one frame's clean latent (the first, then the last), twice: with the other frames from the same clip,
and with them taken from another clip (that frame and the noise unchanged). A model that uses temporal context is
much closer with its own clip's frames; under eq. 12's causal mask the first frame sees no other frame, so its two
errors are equal. Unconditioned (null text and DSG), so only the frames inform it. Prints a table, writes JSON.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import numpy as np
import torch
from dysen_plugin_backbone_vdm.diffusion import add_noise, training_scheduler

from dysen_core.config import load_config, load_trained_config
from dysen_core.io import write_json_atomic
from dysen_core.training_data import load_examples
from dysen_core.video import from_uint8
from dysen_core.video_model import build_backbone

ROOT = Path(__file__).parent
STEPS = (300, 500, 700, 850, 950)


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="A trained backbone folder (default: the shipped model).")
    parser.add_argument("--data", type=Path, default=Path("data/shapes-8f"))
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="Override a run-config key.")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "temporal_context.json")
    args = parser.parse_args()

    config = load_trained_config(args.checkpoint, args.set) if args.checkpoint else load_config(overrides=args.set)
    backbone = build_backbone(config)
    unet = backbone.unet
    examples = load_examples(args.data, "test", config.video)
    clips = [examples[i] for i in range(min(args.clips, len(examples)))]
    video = torch.stack([from_uint8(np.asarray(clip["video"])) for clip in clips])
    z0 = backbone.autoencoder.encode(video, sample=False)  # (B, C, F, h, w)
    b, frames = z0.shape[0], z0.shape[2]
    tokens, mask = backbone.text_encoder.tokens([clip["caption"] for clip in clips])
    text = unet.text_context(tokens, mask, frames, drop=torch.ones(b, dtype=torch.bool))
    graph = unet.graph_context(None, frames, b)
    alphas_cumprod = training_scheduler(backbone.options.diffusion).alphas_cumprod
    generator = torch.Generator().manual_seed(0)

    def clean_estimate(clean: torch.Tensor, step: int, noise: torch.Tensor) -> torch.Tensor:
        """The UNet's estimate of the clean latents from ``clean`` noised to ``step``."""
        abar = alphas_cumprod[step]
        noisy = add_noise(clean, noise, torch.full((b,), step), alphas_cumprod)
        return (noisy - (1 - abar).sqrt() * unet(noisy, torch.full((b,), step), text, graph)) / abar.sqrt()

    rows = []
    for step in STEPS:
        noise = torch.randn(z0.shape, generator=generator)
        own = clean_estimate(z0, step, noise)
        for frame in (0, frames - 1):
            other = z0.roll(1, dims=0)  # every frame of the previous clip ...
            other[:, :, frame] = z0[:, :, frame]  # ... but the one measured
            errors = [float((estimate[:, :, frame] - z0[:, :, frame]).square().mean())
                      for estimate in (own, clean_estimate(other, step, noise))]
            rows.append({"frame": frame, "step": step, "own_context": errors[0], "other_context": errors[1],
                         "ratio": errors[1] / errors[0]})
    rows.sort(key=lambda row: row["frame"])
    print("| frame | diffusion step | its error, own clip's frames | other clip's frames | ratio |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['frame']} | {row['step']} | {row['own_context']:.3f} | {row['other_context']:.3f} | {row['ratio']:.1f} |")
    command = "benchmarks/temporal_context.py " + shlex.join(sys.argv[1:])
    write_json_atomic(args.out, {"command": command, "checkpoint": str(args.checkpoint or "shipped"),
                                 "clips": b, "rows": rows})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
