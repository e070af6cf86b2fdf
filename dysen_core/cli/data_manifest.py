"""``dysen data manifest``: write one manifest (JSONL of video records) for a real text–video dataset (issue 6).

Each sub-command converts one dataset layout (``ucf101``, ``msrvtt``, ``activitynet``, ``csv``) and prints a
one-line summary. Videos left out (missing file, no caption, and with ``--check`` unreadable) are listed as
JSON lines in ``<manifest>.failures.jsonl`` beside the manifest; a stale list from an earlier run is removed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ..video_data import Skip, VideoRecord

app = typer.Typer(help="Write a manifest of videos, captions and splits for a real dataset.", no_args_is_help=True)

Out = Annotated[Path, typer.Option("--out", "-o", help="Manifest file to write (JSONL, one video record a line).")]
Check = Annotated[
    bool, typer.Option("--check", help="Open every video and decode its first frame; unreadable videos are left out.")
]


def _readable(records: Iterable[VideoRecord], on_skip: Callable[[Skip], None]) -> Iterator[VideoRecord]:
    """The records whose first frame decodes; the others go to ``on_skip`` as unreadable."""
    from ..errors import InputError
    from ..video_data import Skip, read_clip

    for record in records:
        try:
            read_clip(record.video, frames=1, seconds=1e-3, size=8, start=record.start or 0.0)  # the first frame only
        except InputError as exc:
            on_skip(Skip(record.id, "unreadable", str(exc)))
        else:
            yield record


def _write(out: Path, make: Callable[[Callable[[Skip], None]], Iterable[VideoRecord]], check: bool) -> None:
    """Write the records ``make(on_skip)`` gives to ``out``, list the left-out videos and print the summary."""
    import json

    from ..io import write_text_atomic
    from ..video_data import write_manifest

    skipped: list[Skip] = []
    records = make(skipped.append)
    counts = write_manifest(out, _readable(records, skipped.append) if check else records)
    failures = out.with_name(f"{out.stem}.failures.jsonl")
    summary = f"wrote {sum(counts.values())} records ({', '.join(f'{split} {n}' for split, n in counts.items())}) to {out}"
    if skipped:
        write_text_atomic(failures, "".join(json.dumps(skip._asdict(), ensure_ascii=False) + "\n" for skip in skipped))
        kinds = Counter(skip.kind for skip in skipped)
        summary += f"; left out {len(skipped)} ({', '.join(f'{kind} {n}' for kind, n in kinds.items())}), listed in {failures}"
    else:
        failures.unlink(missing_ok=True)
    typer.echo(summary)


@app.command("ucf101")
def ucf101(
    root: Annotated[Path, typer.Argument(help="The UCF-101 folder holding one folder per class.")],
    out: Out,
    split_file: Annotated[
        Path | None, typer.Option("--split-file", help="Official trainlist0N.txt or testlist0N.txt; default: groups 1-7 are test.")
    ] = None,
    check: Check = False,
) -> None:
    """UCF-101: the caption is the class name in words ("ApplyEyeMakeup" → "apply eye makeup")."""
    from ..video_data import sources

    _write(out, lambda on_skip: sources.ucf101(root, split_file, on_skip=on_skip), check)


@app.command("msrvtt")
def msrvtt(
    videos_dir: Annotated[Path, typer.Argument(help="Folder of the MSR-VTT videos (video0.mp4, …).")],
    json_path: Annotated[Path, typer.Argument(help="The annotation file, videodatainfo.json style.")],
    out: Out,
    check: Check = False,
) -> None:
    """MSR-VTT: every sentence of a video is one of its captions; splits train, validate → val, test."""
    from ..video_data import sources

    _write(out, lambda on_skip: sources.msrvtt(videos_dir, json_path, on_skip=on_skip), check)


@app.command("activitynet")
def activitynet(
    videos_dir: Annotated[Path, typer.Argument(help="Folder of the ActivityNet videos (v_<id>.mp4 or <id>.mp4).")],
    json_path: Annotated[Path, typer.Argument(help="ActivityNet Captions annotation file (train.json, val_1.json, …).")],
    out: Out,
    split: Annotated[str, typer.Option("--split", help="Split of every record: train, val or test.")],
    check: Check = False,
) -> None:
    """ActivityNet Captions: one record per video; its caption is all event sentences in time order."""
    from ..video_data import sources

    _write(out, lambda on_skip: sources.activitynet(videos_dir, json_path, split, on_skip=on_skip), check)


@app.command("csv")
def csv(
    csv_path: Annotated[Path, typer.Argument(help="CSV file with a header row.")],
    out: Out,
    video_col: Annotated[str, typer.Option("--video-col", help="Column of video paths or URLs (WebVid: contentUrl).")],
    caption_col: Annotated[str, typer.Option("--caption-col", help="Column of captions (WebVid: name).")],
    videos_dir: Annotated[
        Path | None, typer.Option("--videos-dir", help="Folder that video paths (and URLs' file names) are under; default: the CSV's.")
    ] = None,
    id_col: Annotated[str | None, typer.Option("--id-col", help="Column of video ids; default: the video's file name.")] = None,
    split: Annotated[str, typer.Option("--split", help="Split of every record: train, val or test.")] = "train",
    check: Check = False,
) -> None:
    """Any CSV of (video, caption) pairs, e.g. WebVid after downloading its videos."""
    from ..video_data import sources

    _write(out, lambda on_skip: sources.csv_pairs(csv_path, video_col, caption_col, videos_dir=videos_dir, id_col=id_col,
                                                  split=split, on_skip=on_skip), check)
