"""Dynamic-shapes benchmark speed and parser robustness (issue 6): generation, parsing, streaming metrics.

Measures (1) generating a dataset with ``write_dataset`` (target: 10,000 clips in ≤ 2 min on 2 cores),
(2) streaming the ``dynamics`` metric over every stored clip, with the process's peak memory (all scores
must be 1.0: the exact parser at scale), (3) parsing one stored 16-frame clip (target: ≤ 20 ms), and (4) the parser's scores on noisy copies of
the test clips (Gaussian pixel noise of σ plus a per-clip colour shift of up to ±15; Gaussian blur).

Prints a table and writes benchmarks/results/shapes.json. Run: ``.venv/bin/python benchmarks/shapes.py``
(``--n 1000`` for a quick look; ``--keep DIR`` keeps the generated dataset).
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from dysen_core.io import write_json_atomic
from dysen_core.metrics.dynamics import Dynamics
from dysen_core.shapes import (
    ShapesConfig,
    iter_clips,
    load_frames,
    parse_video,
    write_dataset,
)

RESULTS = Path(__file__).parent / "results" / "shapes.json"
DEGRADATIONS = {"noise": (0, 4, 8, 12, 16, 20), "blur": (0.5, 0.8, 1.0)}


def generation(root: Path, n: int, workers: int) -> dict:
    start = time.perf_counter()
    counts = write_dataset(root, n, seed=0, config=ShapesConfig(), workers=workers)
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    return {"clips": n, "workers": workers, "seconds": round(seconds, 2), "clips_per_s": round(n / seconds, 1),
            "seconds_per_10k": round(seconds * 10_000 / n, 1), "dataset_mb": round(size / 2**20, 1), "splits": counts}


def parsing(root: Path, clips: int) -> dict:
    videos = [load_frames(root, r) for r, _ in zip(iter_clips(root, "train"), range(clips))]
    parse_video(videos[0])  # warm caches and imports
    times = []
    for frames in videos:
        start = time.perf_counter()
        parse_video(frames)
        times.append((time.perf_counter() - start) * 1000)
    return {"clips": len(times), "frames_per_clip": int(videos[0].shape[0]), "mean_ms": round(float(np.mean(times)), 2),
            "median_ms": round(float(np.median(times)), 2), "p95_ms": round(float(np.percentile(times, 95)), 2)}


def streaming(root: Path) -> dict:
    """The dynamics metric over every stored clip (all splits): speed, peak memory, and exactness at scale."""
    metric = Dynamics()
    start = time.perf_counter()
    videos = 0
    for split in ("train", "val", "test"):
        for record in iter_clips(root, split):
            metric.update(load_frames(root, record), record)
            videos += 1
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"videos": videos, "seconds": round(seconds, 2), "videos_per_s": round(videos / seconds, 1),
            "peak_rss_mb": round(peak_mb, 1), "scores": {k: round(v, 4) for k, v in metric.compute().items()}}


def degrade(frames: np.ndarray, kind: str, level: float, rng: np.random.Generator) -> np.ndarray:
    """``frames`` with Gaussian pixel noise of σ = level plus a colour shift, or a Gaussian blur of σ = level px."""
    x = frames.astype(np.float64)
    if kind == "noise" and level:
        x = x + rng.normal(0, level, x.shape) + rng.uniform(-15, 15, size=3)
    elif kind == "blur" and level:
        x = ndimage.gaussian_filter(x, sigma=(0, level, level, 0)) + 0.5
    return np.clip(x, 0, 255).astype(np.uint8)


def robustness(root: Path, clips: int) -> list[dict]:
    records = [r for r, _ in zip(iter_clips(root, "test"), range(clips))]
    rows = []
    for kind, levels in DEGRADATIONS.items():
        for level in levels:
            rng = np.random.default_rng(int(level * 10))
            metric = Dynamics()
            for record in records:
                metric.update(degrade(load_frames(root, record), kind, level, rng), record)
            scores = {k: round(v, 4) for k, v in metric.compute().items()}
            rows.append({"degradation": kind, "level": level, "clips": len(records), **scores})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="clips to generate")
    parser.add_argument("--workers", type=int, default=2, help="generator worker processes")
    parser.add_argument("--parse-clips", type=int, default=500, help="clips to time the parser on")
    parser.add_argument("--robustness-clips", type=int, default=300, help="test clips per degradation level")
    parser.add_argument("--keep", type=Path, default=None, help="keep the dataset in this folder")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="dysen-shapes-"))
    try:
        gen = generation(root, args.n, args.workers)
        stream = streaming(root)  # before parsing(), which holds its clips in memory, so the peak is the stream's
        parse = parsing(root, args.parse_clips)
        robust = robustness(root, args.robustness_clips)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    print(f"{'measure':34} {'value':>12}  target")
    print(f"{'generate ' + str(gen['clips']) + ' clips, ' + str(gen['workers']) + ' workers (s)':34} "
          f"{gen['seconds']:>12}  ")
    print(f"{'  → seconds per 10,000 clips':34} {gen['seconds_per_10k']:>12}  <= 120")
    print(f"{'  dataset on disk (MB)':34} {gen['dataset_mb']:>12}")
    print(f"{'parse one 16-frame clip, mean (ms)':34} {parse['mean_ms']:>12}  <= 20")
    print(f"{'  median / p95 (ms)':34} {str(parse['median_ms']) + ' / ' + str(parse['p95_ms']):>12}")
    print(f"{'dynamics over all clips (videos/s)':34} {stream['videos_per_s']:>12}")
    print(f"{'  peak memory (MB)':34} {stream['peak_rss_mb']:>12}")
    print(f"{'  scores on the clean clips':34} {min(stream['scores'].values()):>12}  1.0 (exact parser)")
    print()
    keys = ("trirec", "trirec_video", "event_recall", "temporal_order", "timing_iou")
    print(f"{'degradation':>12} " + " ".join(f"{k:>14}" for k in keys))
    for row in robust:
        print(f"{row['degradation'] + ' ' + str(row['level']):>12} " + " ".join(f"{row[k]:>14.4f}" for k in keys))

    write_json_atomic(RESULTS, {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "generation": gen, "parsing": parse, "streaming": stream, "robustness": robust,
    })
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
