"""Artifacts on disk: written to a temporary directory, then moved into place in one step.

A reader either sees a complete artifact directory or none at all; a crash mid-write
leaves only a `.tmp-*` directory that nothing references (and `sweep_temporary` removes).
"""
from __future__ import annotations

import os
import shutil
import socket
import uuid
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from core import config

TMP_PREFIX = ".tmp-"


def project_dir(project_id: int) -> Path:
    return config.data_dir() / "projects" / str(project_id)


def export_dir(project_id: int) -> Path:
    """Where a project's export jobs write their files (models, datasets)."""
    return project_dir(project_id) / "exports"


def remove_project_dir(project_id: int) -> None:
    """A deleted project's artifacts, gone (inside the data directory only)."""
    shutil.rmtree(project_dir(project_id), ignore_errors=True)


@contextmanager
def discarded_unless_published(final: Path) -> Iterator[None]:
    """Remove an artifact directory already moved into place when the transaction that was to
    publish its row fails (e.g. its job was cancelled): nothing unreferenced stays behind."""
    try:
        yield
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)
        raise


@contextmanager
def atomic_dir(parent: Path, prefix: str) -> Iterator[tuple[Path, Path]]:
    """Yield (temporary dir, final dir); the temporary one becomes the final one on success."""
    parent.mkdir(parents=True, exist_ok=True)
    name = f"{prefix}-{uuid.uuid4().hex[:12]}"
    tmp, final = parent / f"{TMP_PREFIX}{socket.gethostname()}-{os.getpid()}-{name}", parent / name
    tmp.mkdir()
    try:
        yield tmp, final
        _fsync_dir(tmp)
        os.replace(tmp, final)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fsync_dir(path: Path) -> None:
    for child in path.iterdir():
        if child.is_file():
            with open(child, "rb") as handle:
                os.fsync(handle.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def scratch_dir(prefix: str = "scratch") -> Iterator[Path]:
    """A scratch directory for a library's working files (SetFit's trainer output), inside the
    data directory and named like a temporary artifact, so a killed worker's is swept at startup."""
    parent = config.data_dir() / "scratch"
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / f"{TMP_PREFIX}{socket.gethostname()}-{os.getpid()}-{prefix}-{uuid.uuid4().hex[:12]}"
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as handle:
        np.save(handle, np.ascontiguousarray(array))


def sweep_temporary(root: Path | None = None) -> int:
    """Remove temporary directories of dead writers on this host: artifacts being written under
    `root` (default: every project's, plus the scratch directories of `scratch_dir`).

    The writer's host and pid are in the name; directories of live processes, and of other
    hosts sharing the data directory, are left alone.
    """
    if root is None:
        return (sweep_temporary(config.data_dir() / "projects")
                + _sweep_dead(config.data_dir() / "scratch", f"{TMP_PREFIX}{socket.gethostname()}-*"))
    return _sweep_dead(root, f"*/*/{TMP_PREFIX}{socket.gethostname()}-*")


def _sweep_dead(root: Path, pattern: str) -> int:
    host, removed = socket.gethostname(), 0
    for tmp in root.glob(pattern) if root.exists() else []:
        pid = tmp.name[len(TMP_PREFIX) + len(host) + 1:].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(tmp, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def zip_dir(directory: Path, folder: str | None = None) -> bytes:
    """`directory` as a zip; with `folder`, its files sit in that one top-level folder, so
    unzipping makes a folder instead of spilling files into the current one."""
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                name = path.relative_to(directory)
                archive.write(path, Path(folder) / name if folder else name)
    return buffer.getvalue()
