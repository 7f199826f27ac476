"""Files written atomically and durably: every file the library writes goes through here.

A writer writes into a temporary file in the target's directory, fsyncs it, renames it over the
target and fsyncs the directory: after an interrupted run or a crashed machine, readers see the old
file or the whole new one, never a part.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; its renames are durable on their own
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_stream_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through ``write`` into a temporary file, fsync it, rename it over ``path``, fsync the
    directory: after a crash, readers see the old file or the whole new one, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600 files; results are meant to be shared like any other file.
        os.chmod(tmp_name, 0o666 & ~_current_umask())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    write_stream_atomic(Path(path), lambda handle: handle.write(data))


def copy_file_atomic(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically and durably (for checkpoints: no size limit)."""
    with open(source, "rb") as reader:
        write_stream_atomic(Path(target), lambda handle: shutil.copyfileobj(reader, handle))


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes_atomic(path, text.encode("utf-8"))


def write_figure_atomic(path: Path, figure: Any) -> None:
    """Render a matplotlib figure as PNG and write it atomically."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    write_bytes_atomic(path, buffer.getvalue())


def write_json_atomic(path: Path, data: Mapping[str, Any] | list[Any]) -> None:
    """Write JSON atomically; values JSON cannot hold are written as their ``repr``."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=repr) + "\n")


def read_json(path: Path) -> Any:
    """Read a JSON file written by :func:`write_json_atomic`."""
    return json.loads(path.read_text(encoding="utf-8"))
