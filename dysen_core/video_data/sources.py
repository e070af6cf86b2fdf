"""Converters from each dataset's own layout to manifest records (issue 6, part 6; the paper's data, §5.1).

- ``ucf101``: class folders of ``v_<Class>_gXX_cYY`` videos; the caption is the class name split on camel case
  ("ApplyEyeMakeup" → "apply eye makeup"). UCF-101 has no val split.
- ``msrvtt``: ``videodatainfo.json`` ("videos" with video_id and split, "sentences" with video_id and caption);
  every sentence of a video is one of its captions. The files are already cut, so records have no start/end.
- ``activitynet``: ActivityNet Captions ``train.json``/``val_1.json`` ({id: {duration, timestamps, sentences}}).
  One record per video. Its single caption is the paragraph of all event sentences in time order (the
  paper's multi-action prompts, §5.1); the timed sentences are kept in ``dense_captions``. Single sentences are
  not extra captions, because each describes one event, not the whole video.
- ``csv_pairs``: any CSV of (video path, caption), e.g. WebVid's ``contentUrl``/``name`` after downloading.

Each returns an iterator of records in a fixed order. A video that cannot become a record (file missing,
no usable caption) is left out and passed to ``on_skip`` as a ``Skip`` (by default: logged as a warning).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal, NamedTuple
from urllib.parse import urlparse

from pydantic import BaseModel, RootModel, model_validator

from ..errors import InputError
from ..io import read_model, read_text
from .manifest import SPLITS, DenseCaption, VideoRecord

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v")
UCF_TEST_GROUPS = 7  # official split 1: groups g01–g07 are test, g08–g25 train
MSRVTT_SPLITS = {"train": "train", "validate": "val", "val": "val", "test": "test"}

_UCF_NAME = re.compile(r"^v_.+_g(?P<group>\d+)_c\d+$", re.IGNORECASE)
_CAMEL_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

log = logging.getLogger(__name__)


class Skip(NamedTuple):
    """A video a source left out, and why."""

    id: str
    kind: Literal["missing", "no caption", "unreadable"]
    reason: str


OnSkip = Callable[[Skip], None]


def _warn(skip: Skip) -> None:
    log.warning("left out %s (%s): %s", skip.id, skip.kind, skip.reason)


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")


def _find_video(folder: Path, stems: tuple[str, ...]) -> Path | None:
    """The first ``folder/<stem><suffix>`` that exists, over ``stems`` then ``VIDEO_SUFFIXES``."""
    for stem in stems:
        for suffix in VIDEO_SUFFIXES:
            candidate = folder / f"{stem}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _absolute(path: str | Path) -> Path:
    return Path(path).absolute()


def camel_words(name: str) -> str:
    """A camel-case class name as lower-case words: "ApplyEyeMakeup" → "apply eye makeup", "YoYo" → "yo yo"."""
    return " ".join(word.lower() for word in _CAMEL_WORD.findall(name))


def ucf101(root: str | Path, split_file: str | Path | None = None, *, on_skip: OnSkip = _warn) -> Iterator[VideoRecord]:
    """Records for the UCF-101 folder ``root/<ClassName>/v_<ClassName>_gXX_cYY.avi`` (or .mp4, …).

    The caption comes from the folder's name (some files spell the class differently, e.g.
    ``HandstandPushups/v_HandStandPushups_…``). With ``split_file`` (an official ``trainlist0N.txt`` or
    ``testlist0N.txt``), the listed videos take that file's split and the others the opposite one; listed
    videos not on disk are skipped as missing. Entries match by name without suffix, so videos converted to
    another container still match. Without it, groups g01–g07 are test and the rest train (official split 1).
    """
    root = _absolute(root)
    if not root.is_dir():
        raise InputError(f"UCF-101 folder '{root}' not found; give the folder that holds the class folders")
    listed: dict[str, str] = {}
    listed_split: Literal["train", "test"] = "test"
    if split_file is not None:
        split_path = Path(split_file)
        if not split_path.name.lower().startswith(("trainlist", "testlist")):
            raise InputError(f"split file '{split_path}' is not an official UCF-101 list; give trainlist0N.txt or testlist0N.txt")
        listed_split = "train" if split_path.name.lower().startswith("trainlist") else "test"
        for line in read_text(split_path, "UCF-101 split").splitlines():
            if line.strip():
                entry = Path(line.split()[0])
                listed[entry.with_suffix("").as_posix()] = entry.stem
    found: set[str] = set()
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        caption = camel_words(folder.name)
        for video in sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_SUFFIXES):
            match = _UCF_NAME.match(video.stem)
            if match is None:
                continue
            key = f"{folder.name}/{video.stem}"
            found.add(key)
            if split_file is None:
                split = "test" if int(match["group"]) <= UCF_TEST_GROUPS else "train"
            else:
                split = listed_split if key in listed else ("train" if listed_split == "test" else "test")
            yield VideoRecord(id=video.stem, video=video, captions=[caption], split=split)
    for key, stem in listed.items():
        if key not in found:
            on_skip(Skip(stem, "missing", f"listed in {split_file} but no {key}.* under {root}"))


class _MsrvttVideo(BaseModel):
    video_id: str
    split: str


class _MsrvttSentence(BaseModel):
    video_id: str
    caption: str


class _MsrvttFile(BaseModel):
    """The parts of ``videodatainfo.json`` we read (other keys, such as "info" and "url", are ignored)."""

    videos: list[_MsrvttVideo]
    sentences: list[_MsrvttSentence]


def msrvtt(videos_dir: str | Path, json_path: str | Path, *, on_skip: OnSkip = _warn) -> Iterator[VideoRecord]:
    """Records for MSR-VTT: videos ``videos_dir/<video_id>.mp4`` and annotations in ``videodatainfo.json`` style.

    Splits map train → train, validate → val, test → test. Captions keep the file's order.
    """
    videos_dir = _absolute(videos_dir)
    data = read_model(json_path, _MsrvttFile, "MSR-VTT videodatainfo.json")
    captions: dict[str, list[str]] = {}
    for sentence in data.sentences:
        if sentence.caption.strip():
            captions.setdefault(sentence.video_id, []).append(sentence.caption)
    for video in data.videos:
        split = MSRVTT_SPLITS.get(video.split)
        if split is None:
            raise InputError(f"{json_path}: video {video.video_id} has unknown split {video.split!r}; expected train, validate or test")
        path = _find_video(videos_dir, (video.video_id,))
        if video.video_id not in captions:
            on_skip(Skip(video.video_id, "no caption", f"{json_path} has no sentence for it"))
        elif path is None:
            on_skip(Skip(video.video_id, "missing", f"no {video.video_id}.mp4 (or .avi, .mkv, …) in {videos_dir}"))
        else:
            yield VideoRecord(id=video.video_id, video=path, captions=captions[video.video_id], split=split)


def _paragraph(sentences: list[str]) -> str:
    """Sentences joined into one text, each stripped and ended with a full stop if it has no end mark."""
    return " ".join(s if s.endswith((".", "!", "?")) else f"{s}." for s in (t.strip() for t in sentences) if s)


class _ActivityNetVideo(BaseModel):
    duration: float | None = None
    timestamps: list[tuple[float, float]]
    sentences: list[str]

    @model_validator(mode="after")
    def _paired(self) -> _ActivityNetVideo:
        if len(self.timestamps) != len(self.sentences):
            raise ValueError(f"{len(self.timestamps)} timestamps but {len(self.sentences)} sentences; they must pair up")
        return self


class _ActivityNetFile(RootModel[dict[str, _ActivityNetVideo]]):
    """ActivityNet Captions ``train.json`` / ``val_1.json``: {video_id: {duration, timestamps, sentences}}."""


def activitynet(videos_dir: str | Path, json_path: str | Path, split: str, *, on_skip: OnSkip = _warn) -> Iterator[VideoRecord]:
    """Records for ActivityNet Captions: ``videos_dir/<id>.mp4`` (with or without the ``v_`` prefix of the id).

    Timestamps are put in order and clipped to the video's duration (the annotations hold a few reversed or
    overlong ones); sentences are sorted by start time before joining.
    """
    _check_split(split)
    videos_dir = _absolute(videos_dir)
    data = read_model(json_path, _ActivityNetFile, "ActivityNet Captions annotation")
    for video_id, entry in data.root.items():
        duration = entry.duration or float("inf")
        events = []
        for (a, b), text in zip(entry.timestamps, entry.sentences, strict=True):
            if text.strip():
                start, end = sorted((min(max(a, 0.0), duration), min(max(b, 0.0), duration)))
                events.append(DenseCaption(start=start, end=end, text=text))
        events.sort(key=lambda event: (event.start, event.end))
        path = _find_video(videos_dir, (video_id, video_id.removeprefix("v_")))
        if not events:
            on_skip(Skip(video_id, "no caption", f"{json_path} has no sentence for it"))
        elif path is None:
            on_skip(Skip(video_id, "missing", f"no {video_id}.mp4 (or .mkv, .webm, …) in {videos_dir}"))
        else:
            caption = _paragraph([event.text for event in events])
            yield VideoRecord(id=video_id, video=path, captions=[caption], split=split, dense_captions=events)


def _csv_video(value: str, videos_dir: Path) -> Path:
    """A CSV cell as a video path: a URL gives its file name under ``videos_dir``; a relative path is under it."""
    if "://" in value:
        return videos_dir / Path(urlparse(value).path).name
    return videos_dir / value


def csv_pairs(
    csv_path: str | Path,
    video_col: str,
    caption_col: str,
    *,
    videos_dir: str | Path | None = None,
    id_col: str | None = None,
    split: str = "train",
    on_skip: OnSkip = _warn,
) -> Iterator[VideoRecord]:
    """Records for any CSV of (video, caption) pairs; consecutive rows naming the same video become one record.

    Video cells are paths relative to ``videos_dir`` (default: the CSV's folder) or absolute, or URLs, whose
    file name is looked up in ``videos_dir`` (where a downloader saved them). Ids come from ``id_col``, else the
    video's file name without suffix. The CSV is streamed, so a WebVid-size file never sits in memory.
    """
    _check_split(split)
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise InputError(f"CSV file '{csv_path}' not found")
    videos_root = _absolute(videos_dir if videos_dir is not None else csv_path.parent)
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for option, column in (("--video-col", video_col), ("--caption-col", caption_col), ("--id-col", id_col)):
            if column is not None and column not in columns:
                raise InputError(f"{csv_path} has no column {column!r} ({option}); columns found: {', '.join(columns) or 'none'}")
        pending: tuple[str, Path, list[str]] | None = None
        for number, row in enumerate(reader, start=2):
            cell, caption = (row[video_col] or "").strip(), (row[caption_col] or "").strip()
            if not cell:
                on_skip(Skip(f"line {number}", "missing", f"{csv_path}:{number} has an empty {video_col!r}"))
                continue
            video = _csv_video(cell, videos_root)
            record_id = (row[id_col] or "").strip() if id_col else ""
            record_id = record_id or video.stem
            if not caption:
                on_skip(Skip(record_id, "no caption", f"{csv_path}:{number} has an empty {caption_col!r}"))
                continue
            if pending is not None and pending[1] == video:
                pending[2].append(caption)
                continue
            if pending is not None:
                yield from _csv_record(pending, split, on_skip)
            pending = (record_id, video, [caption])
        if pending is not None:
            yield from _csv_record(pending, split, on_skip)


def _csv_record(pending: tuple[str, Path, list[str]], split: str, on_skip: OnSkip) -> Iterator[VideoRecord]:
    record_id, video, captions = pending
    if video.is_file():
        yield VideoRecord(id=record_id, video=video, captions=captions, split=split)
    else:
        on_skip(Skip(record_id, "missing", f"video file '{video}' not found"))
