"""Whole-graph answers kept on disk, one set per graph version, shared by every process.

The explorer's whole-graph answers (verdicts, zombie repeats, the gap map, headline
counts) take seconds to minutes to compute on a large graph. Held only in memory, each
worker process computed them again after every start. Here they are written once per
graph version to ``DIR/<store>/<version>/<name>.pickle``: the first process that needs an
answer computes it under a file lock while the others wait, then every process (a
worker of this explorer, a restarted explorer, another explorer on the same machine)
loads it. A new graph version (every write through the ingest entry point makes one,
whichever process made it) starts a new folder, and the older ones are removed.

The version names the graph's version number, the run that made it and when: a graph
dropped and loaded again (version 1 again) is a different version.

The files are Python pickles: they are only read from a folder this user owns that no
one else may write to (created 0700).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pickle
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

#: Version folders kept per store (the current one and the one before, which a process
#: still serving the older version may be reading).
KEPT_VERSIONS = 2
_MISSING = object()


def _digest(value: object) -> str:
    return hashlib.sha256(repr(value).encode()).hexdigest()[:20]


class AnswerFiles:
    """The answers of one store (``store_key``: its address and graph name) at one graph
    version, in folder ``root``."""

    def __init__(self, root: str | Path, store_key: tuple[Any, ...],
                 version: tuple[Any, ...]) -> None:
        self.store_dir = Path(root) / _digest(store_key)
        self.folder = self.store_dir / _digest(version)

    def get(self, name: str, compute: Callable[[], T],
            on_compute: Callable[[str], None] | None = None) -> T:
        """The answer ``name``: loaded when a process has written it for this version,
        else computed (by one process at a time: the others wait, then load it) and
        written. ``on_compute(name)`` is called when this process computes it."""
        path = self.folder / f"{_digest(name)}.pickle"
        found = self._load(path)
        if found is not _MISSING:
            return found  # type: ignore[no-any-return]
        if not self._ready():
            return compute()  # no folder of our own to share through: compute only
        with self._locked(path.with_suffix(".lock")):
            found = self._load(path)
            if found is not _MISSING:
                return found  # type: ignore[no-any-return]
            if on_compute is not None:
                on_compute(name)
            value = compute()
            self._save(path, value)
        return value

    # -- files ------------------------------------------------------------------------

    def _ready(self) -> bool:
        """Make the version folder (0700) and clear older versions; False when a folder on
        the way is not this user's alone (then nothing is shared)."""
        try:
            for folder in (self.store_dir.parent, self.store_dir, self.folder):
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                if not _private(folder):
                    return False
        except OSError:
            return False
        self._prune()
        return True

    def _prune(self) -> None:
        try:
            others = [p for p in self.store_dir.iterdir() if p.is_dir() and p != self.folder]
            others.sort(key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return
        for old in others[KEPT_VERSIONS - 1:]:
            shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    @contextlib.contextmanager
    def _locked(path: Path) -> Iterator[None]:
        with open(path, "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _load(self, path: Path) -> Any:
        try:
            if not (_private(self.folder) and _private(path)):
                return _MISSING
            with open(path, "rb") as fh:
                return pickle.load(fh)  # noqa: S301 - a file only this user can write
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
            return _MISSING

    def _save(self, path: Path, value: object) -> None:
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(value, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(tmp)


def _private(path: Path) -> bool:
    """Owned by this user and writable by no one else."""
    info = path.stat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
