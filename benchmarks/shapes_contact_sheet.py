"""Render a contact sheet of a few dynamic-shapes clips (all frames, a caption, the gold plan) for docs/benchmark.md.

Run: ``.venv/bin/python benchmarks/shapes_contact_sheet.py`` → docs/img/shapes-contact-sheet.png
(``--seed``, ``--clips`` and ``--out`` change what is drawn and where).
"""

from __future__ import annotations

import argparse
import io
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from dysen_core.shapes import ShapesConfig, generate_clip
from dysen_core.shapes.dataset import write_bytes_atomic

OUT = Path(__file__).parent.parent / "docs" / "img" / "shapes-contact-sheet.png"
ZOOM, PER_ROW, PAD, TEXT_LINES, LINE_PX = 2, 8, 8, 5, 15  # every frame at 128 px, 8 per row (blinks need all)


def pick(seed: int, count: int) -> list[int]:
    """Indices of clips with 2–4 events, so each row shows some dynamics."""
    chosen, index = [], 0
    while len(chosen) < count:
        record, _ = generate_clip(ShapesConfig(), seed, index)
        if len(record.plan.events) >= 2:
            chosen.append(index)
        index += 1
    return chosen


def sheet(seed: int, indices: list[int]) -> Image.Image:
    font = ImageFont.load_default(size=13)
    rows = []
    for index in indices:
        record, frames = generate_clip(ShapesConfig(), seed, index)
        padded = [np.pad(f, ((0, 2), (0, 2), (0, 0)), constant_values=255) for f in frames]
        strip = np.concatenate([np.concatenate(padded[i : i + PER_ROW], axis=1) for i in range(0, len(padded), PER_ROW)])
        image = Image.fromarray(strip).resize((strip.shape[1] * ZOOM, strip.shape[0] * ZOOM), Image.NEAREST)
        plan = "; ".join(f"({e.agent}, {e.predicate}, {e.target or '-'}, [{e.start},{e.end}))" for e in record.plan.events)
        width = image.width // 7
        lines = [f"{record.id} ({record.split}, {record.background})"]
        lines += textwrap.wrap("caption: " + record.captions[1 % len(record.captions)], width)
        lines += textwrap.wrap("plan: " + plan, width)
        row = Image.new("RGB", (image.width, image.height + LINE_PX * TEXT_LINES + PAD), "white")
        row.paste(image, (0, 0))
        draw = ImageDraw.Draw(row)
        for k, line in enumerate(lines[:TEXT_LINES]):
            draw.text((2, image.height + 2 + k * LINE_PX), line, fill="black", font=font)
        rows.append(row)
    out = Image.new("RGB", (max(r.width for r in rows), sum(r.height for r in rows)), "white")
    y = 0
    for row in rows:
        out.paste(row, (0, y))
        y += row.height
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clips", type=int, default=4)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    buffer = io.BytesIO()
    sheet(args.seed, pick(args.seed, args.clips)).save(buffer, format="PNG")
    write_bytes_atomic(args.out, buffer.getvalue())
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
