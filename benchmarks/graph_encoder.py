"""Benchmark: encoding a batch of DSGs with RGTrm / RGNN (paper §4.2) next to one 3D-UNet denoising step.

Times ``encode`` (tensorize + forward, no grad) on B random DSGs of M scene graphs with up to N nodes
each, at the paper's size (L=12, k=8, d=768) by default, and, when diffusers is installed, one forward
of diffusers' ``UNet3DConditionModel`` at a ModelScope/LVDM-like config (channels 320-640-1280-1280,
CLIP-width 768 cross-attention, 16 latent frames of 4×32×32, i.e. 256×256 video). The UNet runs at a
small batch (CPU memory and time) and is scaled linearly to B, which the table says. Labels are embedded
by the seeded ``random`` text encoder at MiniLM's width (384) so that the numbers measure the graph
encoder, not the text model; the label cache is warmed by the first run, as it is in training.

    python benchmarks/graph_encoder.py                 # paper size, writes benchmarks/results/graph_encoder.json
    python benchmarks/graph_encoder.py --width 128 --layers 2 --heads 4 --no-unet   # quick CPU check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import time
from pathlib import Path

import torch
from dysen_plugin_encoder_rgtrm.components import RGNNEncoder, RGTrmEncoder

from dysen_core.datamodel import DynamicSceneGraph, SceneGraph
from dysen_core.tensorize import tensorize
from dysen_core.text_encoders import RandomTextEncoder

RESULTS = Path(__file__).parent / "results" / "graph_encoder.json"


def random_dsg(rng: random.Random, sgs: int, nodes: int) -> DynamicSceneGraph:
    """A DSG of ``sgs`` SGs whose node union (entities + attribute nodes) has at most ``nodes`` nodes."""
    entities = [f"entity {i}" for i in range(nodes * 2 // 3)]
    attributes = [(rng.choice(entities), f"attribute {i}") for i in range(nodes - len(entities))]
    frames = []
    for _ in range(sgs):
        present = rng.sample(entities, max(2, len(entities) * 3 // 4))
        relations = [(rng.choice(present), f"predicate {rng.randrange(30)}", rng.choice(present)) for _ in range(6)]
        attrs = [(o, a) for o, a in attributes if o in present and rng.random() < 0.6]
        frames.append(SceneGraph(objects=present, relations=relations, attributes=attrs))
    return DynamicSceneGraph(prompt="benchmark", frames=frames)


def timed(fn, repeats: int) -> list[float]:
    """Milliseconds of each of ``repeats`` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return times


def encoder_row(cls, args, dsgs) -> dict:
    options = cls.Options(layers=args.layers, heads=args.heads, width=args.width, dtype=args.dtype)
    encoder = cls(options, text_encoder=RandomTextEncoder(RandomTextEncoder.Options(dim=384)))
    with torch.no_grad():
        times = timed(lambda: encoder.encode(dsgs), args.repeats)
        tensorize_ms = statistics.median(timed(lambda: tensorize(dsgs, encoder.labels), args.repeats))
    params = sum(p.numel() for p in encoder.module.parameters())
    return {"what": f"{cls.name} encode", "batch": len(dsgs), "ms": statistics.median(times), "ms_all": times,
            "tensorize_ms": tensorize_ms, "params_M": params / 1e6}


def unet_row(args) -> dict | None:
    try:
        from diffusers import UNet3DConditionModel
    except ImportError:
        return None
    torch.manual_seed(0)
    unet = UNet3DConditionModel(sample_size=32, cross_attention_dim=768, attention_head_dim=64).eval()
    B = args.unet_batch
    sample = torch.randn(B, 4, 16, 32, 32)  # (B, C, F, H, W): 16 latent frames of a 256×256 video
    text = torch.randn(B, 77, 768)  # CLIP ViT-L/14 token features
    with torch.no_grad():
        step = torch.tensor([500] * B)
        times = timed(lambda: unet(sample, step, encoder_hidden_states=text), max(1, args.repeats - 1))
    params = sum(p.numel() for p in unet.parameters())
    return {"what": "UNet3DConditionModel step", "batch": B, "ms": statistics.median(times), "ms_all": times,
            "params_M": params / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--sgs", type=int, default=16, help="M, scene graphs per DSG")
    parser.add_argument("--nodes", type=int, default=24, help="most nodes in a DSG's node union")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--unet-batch", type=int, default=1, help="UNet batch actually run (then scaled to --batch)")
    parser.add_argument("--no-unet", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    rng = random.Random(0)
    dsgs = [random_dsg(rng, args.sgs, args.nodes) for _ in range(args.batch)]
    B, M, N = tensorize(dsgs).shape
    rows = [encoder_row(cls, args, dsgs) for cls in (RGTrmEncoder, RGNNEncoder)]
    unet = None if args.no_unet else unet_row(args)
    if unet is not None:
        unet["ms_scaled_to_batch"] = unet["ms"] * args.batch / unet["batch"]
        for row in rows:
            row["fraction_of_unet_step"] = row["ms"] / unet["ms_scaled_to_batch"]
        rows.append(unet)

    load = os.getloadavg()[0]  # other processes on the machine skew CPU timings; recorded with them
    cpu = platform.processor() or platform.machine()
    print(f"DSG batch B={B}, M={M}, N={N}; L={args.layers}, k={args.heads}, d={args.width}, {args.dtype}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, {cpu}, load average {load:.1f}")
    print(f"{'what':<28}{'batch':>6}{'ms (median)':>14}{'params (M)':>12}{'vs UNet step':>14}")
    for row in rows:
        share = f"{row['fraction_of_unet_step']:.1%}" if "fraction_of_unet_step" in row else ""
        print(f"{row['what']:<28}{row['batch']:>6}{row['ms']:>14.1f}{row['params_M']:>12.1f}{share:>14}")
    if unet is not None:
        print(f"UNet step scaled to batch {args.batch}: {unet['ms_scaled_to_batch']:.0f} ms (linear in batch)")
    else:
        print("diffusers is not installed (or --no-unet): no UNet comparison")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    args.out.write_text(json.dumps({"config": config, "shape": [B, M, N], "torch": torch.__version__,
                                    "threads": torch.get_num_threads(), "load_average": load, "rows": rows}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
