"""Real text–video data through one manifest format (issue 6, part 6; paper §5.1).

``manifest`` (the ``VideoRecord`` JSONL format), ``sources`` (UCF-101, MSR-VTT, ActivityNet Captions and any
CSV of pairs → records) and ``frames`` (decoding 16 frames over 2 s, resized and centre-cropped; datasets).
"""

from .frames import ClipDataset, iter_clips, read_clip, read_record
from .manifest import SPLITS, DenseCaption, Split, VideoRecord, iter_manifest, write_manifest
from .sources import Skip, activitynet, camel_words, csv_pairs, msrvtt, ucf101

__all__ = [
    "SPLITS",
    "ClipDataset",
    "DenseCaption",
    "Skip",
    "Split",
    "VideoRecord",
    "activitynet",
    "camel_words",
    "csv_pairs",
    "iter_clips",
    "iter_manifest",
    "msrvtt",
    "read_clip",
    "read_record",
    "ucf101",
    "write_manifest",
]
