"""Benchmark: our 3D-UNet against diffusers' ``UNet3DConditionModel`` at matched size, and the DSG branch's cost.

Three models see the same latents (B × 4 × F × S × S), the same text tokens and the same step:

- ``diffusers``: ``UNet3DConditionModel`` (the reference a user would pick), cross-attention at every level
  but the deepest, like ours;
- ``ours (baseline)``: our UNet without the DSG branch (the paper's Latent-VDM, "w/o Dysen");
- ``ours (Dysen)``: with the DSG cross-attention of eq. 6, fed per-SG node tokens (features precomputed once,
  as in sampling).

Our width is chosen so the parameter counts match within a few percent (diffusers adds temporal convolutions
and a temporal transformer per block; we have eq. 11's affine and one causal temporal attention), and the
table prints both counts. It times a sampling step (no grad, batch 2 = classifier-free guidance) and a
training step (forward + backward, batch B), median of ``--repeats``; ratios < 1 mean ours is faster.

    python benchmarks/backbone.py                       # CPU default: 16 frames of 16×16 latents (64×64 video)
    python benchmarks/backbone.py --size 32 --device cuda --channels 320 640 1280 1280   # paper size on a GPU
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from diffusers import UNet3DConditionModel
from dysen_plugin_backbone_vdm.unet import UNet3D, UNetConfig

from dysen_core.graph_features import GraphFeatures

RESULTS = Path(__file__).parent / "results" / "backbone.json"


def count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def reference(args) -> UNet3DConditionModel:
    levels = len(args.channels)
    down = tuple(["CrossAttnDownBlock3D"] * (levels - 1) + ["DownBlock3D"])
    up = tuple(["UpBlock3D"] + ["CrossAttnUpBlock3D"] * (levels - 1))
    return UNet3DConditionModel(
        in_channels=4, out_channels=4, down_block_types=down, up_block_types=up, block_out_channels=tuple(args.channels),
        layers_per_block=args.layers, norm_num_groups=args.groups, cross_attention_dim=args.text_dim,
        attention_head_dim=args.channels[0] // args.heads,
    )


def ours(args, channels: list[int], graph: bool) -> UNet3D:
    return UNet3D(UNetConfig(
        channels=channels, layers_per_level=args.layers, heads=args.heads, groups=args.groups, text_dim=args.text_dim,
        graph_dim=args.graph_dim if graph else None, max_frames=args.frames,
    ))


def matched_channels(args, target: int) -> list[int]:
    """Our widths scaled so the Dysen model has about ``target`` parameters (multiples of groups and heads)."""
    step = args.groups * args.heads // torch.gcd(torch.tensor(args.groups), torch.tensor(args.heads)).item()
    best, best_gap = list(args.channels), None
    for scale in [s / 100 for s in range(80, 200)]:
        channels = [max(step, round(c * scale / step) * step) for c in args.channels]
        gap = abs(count(ours(args, channels, graph=True)) - target)
        if best_gap is None or gap < best_gap:
            best, best_gap = channels, gap
        if count(ours(args, channels, graph=True)) > target * 1.1:
            break
    return best


def timed(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--groups", type=int, default=16)
    parser.add_argument("--text-dim", type=int, default=384)
    parser.add_argument("--graph-dim", type=int, default=128)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=16, help="Latent height and width.")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--sgs", type=int, default=4, help="Distinct scene graphs per DSG.")
    parser.add_argument("--nodes", type=int, default=12, help="Nodes per DSG.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice).")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    ref = reference(args).to(device)
    channels = matched_channels(args, count(ref))
    models = {"diffusers UNet3DConditionModel": ref,
              "ours (baseline, w/o Dysen)": ours(args, channels, graph=False).to(device),
              "ours (Dysen, DSG branch)": ours(args, channels, graph=True).to(device)}
    b, f, s = args.batch, args.frames, args.size
    z = torch.randn(b, 4, f, s, s, device=device)
    t = torch.full((b,), 500, device=device)
    text = torch.randn(b, 20, args.text_dim, device=device)
    mask = torch.ones(b, 20, dtype=torch.bool, device=device)
    node_mask = torch.ones(b, args.sgs, args.nodes, dtype=torch.bool, device=device)
    feats = GraphFeatures(torch.randn(b, args.sgs, args.graph_dim, device=device),
                          torch.randn(b, args.sgs, args.nodes, args.graph_dim, device=device), node_mask,
                          torch.ones(b, args.sgs, dtype=torch.bool, device=device))

    def step_fn(name, model, batch_z, train: bool):
        n = batch_z.shape[0]
        if name.startswith("diffusers"):
            hidden = text.repeat(n // b, 1, 1)
            return lambda: model(batch_z, t.repeat(n // b), encoder_hidden_states=hidden).sample
        ctx = model.text_context(text.repeat(n // b, 1, 1), mask.repeat(n // b, 1), f)
        graph = None
        if model.has_graph_branch:
            big = GraphFeatures(*(getattr(feats, k).repeat(n // b, *[1] * (getattr(feats, k).dim() - 1)) for k in GraphFeatures.FIELDS))
            graph = model.graph_context(big, f)
        return lambda: model(batch_z, t.repeat(n // b), ctx, graph)

    rows = []
    for name, model in models.items():
        model.eval()
        with torch.no_grad():
            sample_s = timed(step_fn(name, model, torch.cat([z, z]), False), args.repeats, device)
        model.train()
        forward = step_fn(name, model, z, True)

        def train_step(model=model, forward=forward):
            model.zero_grad(set_to_none=True)
            forward().square().mean().backward()

        train_s = timed(train_step, args.repeats, device)
        rows.append({"model": name, "params": count(model), "sampling_step_s": sample_s, "training_step_s": train_s})
    base = rows[0]
    for row in rows:
        row["sampling_ratio_vs_diffusers"] = row["sampling_step_s"] / base["sampling_step_s"]
        row["training_ratio_vs_diffusers"] = row["training_step_s"] / base["training_step_s"]
    overhead = {"sampling": rows[2]["sampling_step_s"] / rows[1]["sampling_step_s"] - 1,
                "training": rows[2]["training_step_s"] / rows[1]["training_step_s"] - 1}

    print(f"latents {b}×4×{f}×{s}×{s}, text 20×{args.text_dim}, DSG {args.sgs} SGs × {args.nodes} nodes × {args.graph_dim}; "
          f"device {device}; our channels {channels}, diffusers {args.channels}")
    print(f"{'model':34} {'params':>10} {'sample step':>12} {'ratio':>6} {'train step':>11} {'ratio':>6}")
    for row in rows:
        print(f"{row['model']:34} {row['params'] / 1e6:9.2f}M {row['sampling_step_s'] * 1e3:10.1f}ms "
              f"{row['sampling_ratio_vs_diffusers']:6.2f} {row['training_step_s'] * 1e3:9.1f}ms {row['training_ratio_vs_diffusers']:6.2f}")
    print(f"DSG branch overhead per step: sampling {overhead['sampling']:+.1%}, training {overhead['training']:+.1%}")
    result = {"settings": vars(args) | {"output": str(args.output), "our_channels": channels}, "rows": rows,
              "dsg_overhead": overhead, "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                                                    "torch": torch.__version__, "threads": torch.get_num_threads(),
                                                    "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu"}}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
