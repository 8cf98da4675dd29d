"""Reading an interchange v1 bundle: a folder or a .zip holding up to five CSV files.

Rows stream from disk one at a time; memory does not grow with file size.
Every problem is a :class:`Problem` with file, line, column and reason, where
the line is the physical line of the row's first line (the header is line 1).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from triedbefore.graph import settings
from triedbefore.ingest import BundleUnreadable
from triedbefore.ontology.cells import unprotect_cell
from triedbefore.ontology.models import ROW_TYPES, InterchangeRow

#: Largest cell accepted, in characters; a longer one is a row error.
MAX_CELL = 1_000_000
csv.field_size_limit(MAX_CELL)

BUNDLE_FILES: tuple[str, ...] = tuple(t.FILE for t in ROW_TYPES)

#: A .zip member this small is never refused for its compression ratio (a short file of
#: repeated values compresses well and is harmless).
RATIO_FLOOR = 1 << 20

#: Why a cell cannot be stored (the database ends a string at a NUL).
NUL_REASON = "holds a NUL character (U+0000), which no value may hold"
#: Why an id cannot be loaded: the explorer refuses an address holding one (web/app.py).
ID_CONTROL_REASON = ("holds a control character (U+0001 to U+001F or U+007F), which no id "
                     "may hold")
_ID_CONTROL = frozenset(chr(c) for c in (*range(1, 0x20), 0x7F))

@dataclass(frozen=True)
class Problem:
    """One error or warning about a bundle, a file or a row."""

    file: str
    line: int | None
    column: str | None
    reason: str
    allowed: tuple[str, ...] = ()
    severity: str = "error"  # "error" rejects the row (or file); "warning" does not

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file": self.file, "line": self.line, "column": self.column,
                               "reason": self.reason}
        if self.allowed:
            out["allowed"] = list(self.allowed)
        if self.severity != "error":
            out["severity"] = self.severity
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Problem:
        return cls(data["file"], data["line"], data["column"], data["reason"],
                   tuple(data.get("allowed", ())), data.get("severity", "error"))

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        col = f" [{self.column}]" if self.column else ""
        allowed = f" (allowed: {', '.join(self.allowed)})" if self.allowed else ""
        return f"{where}{col}: {self.reason}{allowed}"


class ProblemLog:
    """A run's problems, in the order found: the first ``limit`` held in memory (what is
    printed), every one counted, and the others kept in a temporary file, so that memory
    does not grow with their number (a bundle of millions of bad rows) and the report
    still lists every one. Iterating gives them all, the kept ones first; ``spool=False``
    only counts those past the limit (a pass that reads rows again)."""

    def __init__(self, limit: int | None = None, *, spool: bool = True) -> None:
        self.limit = int(settings.INGEST_PROBLEM_LIMIT.get()) if limit is None else limit
        self.kept: list[Problem] = []
        self.error_count = 0
        self.warning_count = 0
        self._spool_on = spool
        self._spool: IO[str] | None = None

    def append(self, problem: Problem) -> None:
        if problem.severity == "error":
            self.error_count += 1
        else:
            self.warning_count += 1
        if len(self.kept) < self.limit:
            self.kept.append(problem)
        elif self._spool_on:
            if self._spool is None:
                self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")
            self._spool.write(json.dumps(problem.to_dict() | {"severity": problem.severity},
                                         ensure_ascii=False) + "\n")

    def extend(self, problems: Iterable[Problem]) -> None:
        for problem in problems:
            self.append(problem)

    def __len__(self) -> int:
        return self.error_count + self.warning_count

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[Problem]:
        yield from self.kept
        if self._spool is not None:
            self._spool.flush()
            self._spool.seek(0)
            for line in self._spool:
                yield Problem.from_dict(json.loads(line))
            self._spool.seek(0, os.SEEK_END)

    @property
    def truncated(self) -> bool:
        """Whether some problems are not held in memory."""
        return len(self) > len(self.kept)

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()
            self._spool = None


@dataclass
class RawRow:
    """A row as read: canonical column → cell text; unknown columns under ``x_<name>``."""

    line: int
    cells: dict[str, str]
    extras: dict[str, str] = field(default_factory=dict)


def extra_property(column: str) -> str:
    """Property name of an unknown column: ``x_`` + the name in lower_snake_case."""
    return "x_" + (re.sub(r"[^0-9a-z_]+", "_", column.strip().lower()).strip("_") or "column")


class _Lines:
    """Decoded lines of a byte stream, remembering which lines were not UTF-8."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.number = 0
        self.bad: dict[int, int] = {}  # line number → byte offset of the first bad byte

    def __iter__(self) -> Iterator[str]:
        for raw in self._stream:
            self.number += 1
            if self.number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.bad[self.number] = exc.start
                yield raw.decode("utf-8", errors="replace")


class Bundle:
    """An interchange bundle on disk (folder or .zip)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self.members: dict[str, str] = {}  # file name → member path (zip) or file path
        #: Problems found on opening: files that are not read at all (reported by the run).
        self.problems: list[Problem] = []
        self.max_rows = int(settings.INGEST_MAX_ROWS.get())
        if path.is_dir():
            for child in sorted(path.iterdir()):
                name = child.name.lower()
                if name not in BUNDLE_FILES or name in self.members:
                    continue
                refused = self._not_regular(child)
                if refused:
                    self.problems.append(Problem(child.name, None, None, refused))
                else:
                    self.members[name] = str(child)
        elif path.is_file() and zipfile.is_zipfile(path):
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise BundleUnreadable(f"{path}: not a readable .zip ({exc})") from None
            for info in self._zip.infolist():
                if info.is_dir():
                    continue
                parts = info.filename.split("/")
                name = parts[-1].lower()
                if len(parts) > 2 or name not in BUNDLE_FILES or name in self.members:
                    continue
                refused = self._too_big(info)
                if refused:
                    self.problems.append(Problem(info.filename, None, None, refused))
                    self.members.setdefault(name, "")  # the first of a name counts
                    continue
                self.members[name] = info.filename
            self.members = {k: v for k, v in self.members.items() if v}
        elif not path.exists():
            raise BundleUnreadable(f"{path}: no such file or folder")
        else:
            raise BundleUnreadable(
                f"{path}: not a bundle (expected a folder or a .zip of CSV files)")
        if not self.members and not self.problems:
            raise BundleUnreadable(
                f"{path}: not a bundle: it holds none of {', '.join(BUNDLE_FILES)}")

    @staticmethod
    def _not_regular(child: Path) -> str | None:
        """Why a folder bundle's file is not read: only regular files inside the folder
        are, never a link (whose target may be anywhere: its content would show in the
        problems), a device or a pipe."""
        try:
            mode = child.lstat().st_mode
        except OSError as exc:
            return f"cannot be read ({exc.strerror}); the file was not read"
        if stat.S_ISLNK(mode):
            return ("is a symbolic link; a bundle folder's files must be regular files in "
                    "it, and links are not followed: the file was not read")
        if not stat.S_ISREG(mode):
            return "is not a regular file: the file was not read"
        return None

    @staticmethod
    def _too_big(info: zipfile.ZipInfo) -> str | None:
        """Why a .zip member is not read: larger uncompressed than ``ingest_max_file_mb``,
        or compressed more than ``ingest_max_ratio`` (a zip bomb). The sizes are those the
        archive declares; the zip reader never gives more bytes than declared (it stops,
        and the checksum fails)."""
        limit_mb = int(settings.INGEST_MAX_FILE_MB.get())
        ratio_limit = float(settings.INGEST_MAX_RATIO.get())
        size = info.file_size
        if size > limit_mb * (1 << 20):
            return (f"is {size:,} bytes uncompressed, more than the limit of {limit_mb:,} MiB "
                    f"(setting {settings.INGEST_MAX_FILE_MB.name}): the file was not read")
        ratio = size / max(info.compress_size, 1)
        if size > RATIO_FLOOR and ratio > ratio_limit:
            return (f"is compressed {ratio:,.0f} to 1 ({size:,} bytes from "
                    f"{info.compress_size:,}), more than the limit of {ratio_limit:,.0f} to 1 "
                    f"(setting {settings.INGEST_MAX_RATIO.name}); a file compressed so much "
                    "is likely a zip bomb: the file was not read")
        return None

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def open_binary(self, name: str) -> IO[bytes]:
        member = self.members[name]
        if self._zip is not None:
            return self._zip.open(member)
        # never through a link put in place of the file after the bundle was opened
        fd = os.open(member, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        return os.fdopen(fd, "rb")

    def checksum(self, name: str) -> str:
        digest = hashlib.sha256()
        with self.open_binary(name) as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def rows(self, row_type: type[InterchangeRow], problems: list[Problem] | ProblemLog,
             *, warn: bool = True) -> Iterator[RawRow]:
        """Stream the rows of one file; file and parse problems go to ``problems``.

        Rows whose bytes are not UTF-8, whose quoting is broken or that hold a NUL are
        reported and not yielded; rows after the first ``max_rows`` are not read.
        ``warn`` controls header warnings (given once per ingest).
        """
        name = row_type.FILE
        if name not in self.members:
            return
        with self.open_binary(name) as raw:
            lines = _Lines(raw)
            reader = csv.reader(iter(lines), strict=True)
            try:
                header = next(reader)
            except StopIteration:
                problems.append(Problem(name, None, None, "file is empty: no header row"))
                return
            except csv.Error as exc:
                problems.append(Problem(name, None, None, f"unreadable header: {exc}"))
                return
            if lines.bad:
                problems.append(Problem(name, None, None,
                                        "header is not UTF-8: the file cannot be read"))
                return
            columns = self._map_header(row_type, header, problems, warn)
            if columns is None:
                return
            width = len(header)
            id_at = next((i for i, (c, extra) in enumerate(columns)
                          if c == row_type.ID_COLUMN and not extra), None)
            previous = lines.number
            count = 0  # rows read, blank lines aside
            while True:
                start = previous + 1
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    message = str(exc)
                    if "unexpected end of data" in message or lines.number > start:
                        # a quote opened on this line never closes: everything after is swallowed
                        problems.append(Problem(
                            name, start, None,
                            "a quoted cell is never closed; the rest of the file "
                            f"(lines {start}–{lines.number}) cannot be read"))
                        break
                    count += 1
                    if count > self.max_rows:
                        problems.append(self._past_limit(name, start))
                        break
                    if "field larger than field limit" in message:
                        message = f"a cell is longer than {MAX_CELL:,} characters"
                    problems.append(Problem(name, start, None, f"malformed CSV: {message}"))
                    previous = lines.number
                    continue
                end = lines.number
                previous = end
                if cells and not (len(cells) == 1 and cells[0].strip() == ""):
                    count += 1
                    if count > self.max_rows:
                        problems.append(self._past_limit(name, start))
                        break
                bad = [n for n in range(start, end + 1) if n in lines.bad]
                if bad:
                    offset = lines.bad[bad[0]]
                    for n in bad:
                        del lines.bad[n]
                    problems.append(Problem(
                        name, start, None,
                        f"bytes that are not UTF-8 (line {bad[0]}, byte {offset + 1} of the line); "
                        "save the file as UTF-8"))
                    continue
                if not cells or (len(cells) == 1 and cells[0].strip() == ""):
                    continue  # blank line
                if len(cells) != width:
                    problems.append(Problem(
                        name, start, None,
                        f"row has {len(cells)} cells but the header has {width}"))
                    continue
                nul = next((i for i, cell in enumerate(cells) if "\x00" in cell), None)
                if nul is not None:
                    column = columns[nul][0] if not columns[nul][1] else header[nul]
                    problems.append(Problem(name, start, column, NUL_REASON))
                    continue
                if id_at is not None and not _ID_CONTROL.isdisjoint(cells[id_at]):
                    problems.append(Problem(name, start, row_type.ID_COLUMN,
                                            ID_CONTROL_REASON))
                    continue
                row = RawRow(start, {})
                for (canonical, is_extra), raw_cell in zip(columns, cells, strict=True):
                    cell = unprotect_cell(raw_cell)
                    if is_extra:
                        row.extras[canonical] = cell
                    else:
                        row.cells[canonical] = cell
                yield row

    def _past_limit(self, name: str, line: int) -> Problem:
        return Problem(name, line, None,
                       f"the file has more than {self.max_rows:,} rows (setting "
                       f"{settings.INGEST_MAX_ROWS.name}); line {line} and the lines after "
                       "it were not read")

    @staticmethod
    def _map_header(row_type: type[InterchangeRow], header: list[str],
                    problems: list[Problem] | ProblemLog, warn: bool
                    ) -> list[tuple[str, bool]] | None:
        name = row_type.FILE
        known = set(row_type.columns())
        seen: set[str] = set()
        columns: list[tuple[str, bool]] = []
        ok = True
        for cell in header:
            column = cell.strip().lower()
            if column in seen or (column not in known and extra_property(column) in seen):
                problems.append(Problem(name, 1, cell, "column appears twice in the header"))
                ok = False
                continue
            if column in known:
                seen.add(column)
                columns.append((column, False))
            else:
                prop = extra_property(column)
                seen.add(prop)
                columns.append((prop, True))
                if warn:
                    problems.append(Problem(
                        name, 1, cell, f"unknown column kept as property {prop}",
                        tuple(row_type.columns()), severity="warning"))
        missing = [c for c in row_type.required_columns() if c not in seen]
        if missing:
            problems.append(Problem(
                name, 1, None,
                f"required column{'s' if len(missing) > 1 else ''} missing from the header: "
                f"{', '.join(missing)}; no row of this file can load",
                tuple(row_type.columns())))
            ok = False
        return columns if ok else None


class MemoryBundle(Bundle):
    """Rows held in memory, read like a bundle on disk: per interchange file, rows of
    column → cell text, the first one on line 2 (under a header). A column the file does
    not define is kept as its ``x_`` property, as from a CSV. Nothing touches the disk."""

    def __init__(self, label: str, files: Mapping[str, Sequence[Mapping[str, str]]], *,
                 digest: str | None = None) -> None:
        unknown = sorted(set(files) - set(BUNDLE_FILES))
        if unknown:
            raise ValueError(f"not interchange files: {', '.join(unknown)}")
        self.path = Path(label)
        self._zip = None
        self.problems = []
        self.max_rows = int(settings.INGEST_MAX_ROWS.get())
        self._files = {name: list(rows) for name, rows in files.items()}
        self.members = {name: label for name in self._files}
        self._digest = digest

    def open_binary(self, name: str) -> IO[bytes]:
        raise BundleUnreadable(f"{self.path}: the rows are held in memory, not in a file")

    def checksum(self, name: str) -> str:
        if self._digest is not None:
            return self._digest
        blob = json.dumps(self._files[name], ensure_ascii=False, sort_keys=True,
                          separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def rows(self, row_type: type[InterchangeRow], problems: list[Problem] | ProblemLog,
             *, warn: bool = True) -> Iterator[RawRow]:
        known = set(row_type.columns())
        for number, cells in enumerate(self._files.get(row_type.FILE, ()), start=2):
            nul = next((c for c, cell in cells.items() if "\x00" in cell), None)
            if nul is not None:
                problems.append(Problem(row_type.FILE, number, nul, NUL_REASON))
                continue
            if not _ID_CONTROL.isdisjoint(cells.get(row_type.ID_COLUMN, "")):
                problems.append(Problem(row_type.FILE, number, row_type.ID_COLUMN,
                                        ID_CONTROL_REASON))
                continue
            row = RawRow(number, {})
            for column, cell in cells.items():
                if column in known:
                    row.cells[column] = cell
                else:
                    row.extras[extra_property(column)] = cell
            yield row


def open_bundle(path: str | Path) -> Bundle:
    return Bundle(Path(path))
