"""Trains the shapes feature network behind the ``shapes-fvd`` metric and writes the file dysen ships (issue 6, part 4).

Generates a dynamic-shapes dataset in a temporary folder (``--n`` clips, 80 % train, 20 % held out; ~110 MB,
~15 s: with 2,000 clips the network memorised its 1,600 training clips), trains
``dysen_core.metrics.shapes_features.ShapesFeatureNet`` on CPU, prints the training record (time, loss,
held-out accuracy) and writes ``dysen_core/metrics/weights/shapes_features.safetensors`` (the record is in
the file's metadata). Shapes-FVD numbers are not comparable to published FVD.

Run: ``.venv/bin/python benchmarks/train_shapes_features.py`` (about 5 minutes on 2 idle cores).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from dysen_core.metrics.shapes_features import DEFAULT_WEIGHTS, train_shapes_features
from dysen_core.shapes import ShapesConfig, write_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="clips to generate (default 10000; 2000 overfit)")
    parser.add_argument("--steps", type=int, default=2000, help="optimiser steps (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data and the training (default 0)")
    parser.add_argument("--workers", type=int, default=2, help="processes generating the data (default 2)")
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS, help="weights file to write (default: the shipped one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_dataset(Path(tmp), args.n, seed=args.seed, config=ShapesConfig(), workers=args.workers)
        print(f"generated {args.n} clips in {time.perf_counter() - start:.1f} s")
        record = train_shapes_features(Path(tmp), steps=args.steps, seed=args.seed, out_path=args.out)
    print(json.dumps(record, indent=2))
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.2f} MB)")


if __name__ == "__main__":
    main()
