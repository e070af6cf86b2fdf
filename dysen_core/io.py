"""Reading and writing the project's files: atomic writes, and model files read with errors a user can act on."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import InputError
from .redact import redact

M = TypeVar("M", bound=BaseModel)


@contextmanager
def atomic_path(path: str | Path, *, suffix: str = ".tmp", fsync: bool = True) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it when the block ends without an error.

    Readers see the old file or the new one, never half of it; a failed block leaves nothing behind. For
    writers that open the file themselves (ffmpeg); ``atomic_file`` gives a handle instead. ``fsync=False``
    skips flushing to disk, for writers of thousands of files that mark completion themselves.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if fsync:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes private files; outputs are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def atomic_file(path: str | Path, mode: str = "wb", *, fsync: bool = True) -> Iterator[IO]:
    """An open handle on ``atomic_path(path)``: its content replaces ``path`` when the block succeeds."""
    with atomic_path(path, fsync=fsync) as tmp, open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as handle:
        yield handle


def write_bytes_atomic(path: str | Path, data: bytes, *, fsync: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically (see ``atomic_file``)."""
    with atomic_file(path, "wb", fsync=fsync) as handle:
        handle.write(data)
    return Path(path)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_safetensors_atomic(path: str | Path, tensors: dict[str, Any], metadata: dict[str, str] | None = None) -> Path:
    """Write torch ``tensors`` as a safetensors file atomically, so an interrupted save never leaves half a checkpoint."""
    from safetensors.torch import save

    return write_bytes_atomic(path, save({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, metadata))


def write_json_atomic(path: str | Path, data: Any) -> Path:
    """Write ``data`` (a pydantic model or plain JSON value) as indented JSON, atomically."""
    if isinstance(data, BaseModel):
        text = data.model_dump_json(indent=2, exclude_none=True)
    else:
        text = json.dumps(data, indent=2, ensure_ascii=False)
    return write_text_atomic(path, text + "\n")


def read_text(path: str | Path, what: str) -> str:
    """The text of ``path``; a missing or unreadable file is an InputError naming ``what`` it should be."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file '{path}' not found")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {what} file '{path}': {exc}") from None


def read_model(path: str | Path, model: type[M], what: str) -> M:
    """Parse ``path`` as JSON into ``model``; errors name the file, the line or the field."""
    text = read_text(path, what)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path} is not a valid {what}:\n{validation_lines(exc)}") from None


def validation_lines(exc: ValidationError, prefix: str = "", origin: Callable[[tuple[str, ...]], str] | None = None) -> str:
    """One ``field.path: message (got value)`` line per error, indented for the CLI; with ``origin``, each line
    says where the field was set (``set in FILE``) instead of echoing the value."""
    lines = []
    for err in exc.errors():
        path = tuple(str(p) for p in err["loc"])
        loc = ".".join((*([prefix] if prefix else []), *path)) or "(root)"
        if origin is not None:
            lines.append(f"  {loc}: {err['msg']} (set in {origin(path)})")
            continue
        got = err.get("input")
        shown = repr(got) if not isinstance(got, (dict, list)) else type(got).__name__
        if len(shown) > 80:
            shown = shown[:77] + "..."
        lines.append(f"  {loc}: {err['msg']} (got {shown})")
    return redact("\n".join(lines))  # a key pasted into a config field or an override must not be echoed back
