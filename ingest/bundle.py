"""Reading an interchange v1 bundle: a folder or a .zip holding up to five CSV files.

Rows stream from disk one at a time; memory does not grow with file size.
Every problem is a :class:`Problem` with file, line, column and reason, where
the line is the physical line of the row's first line (the header is line 1).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from triedbefore.ingest import BundleUnreadable
from triedbefore.ontology.cells import unprotect_cell
from triedbefore.ontology.models import ROW_TYPES, InterchangeRow

#: Largest cell accepted, in characters; a longer one is a row error.
MAX_CELL = 1_000_000
csv.field_size_limit(MAX_CELL)

BUNDLE_FILES: tuple[str, ...] = tuple(t.FILE for t in ROW_TYPES)

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

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line is not None else "")
        col = f" [{self.column}]" if self.column else ""
        allowed = f" (allowed: {', '.join(self.allowed)})" if self.allowed else ""
        return f"{where}{col}: {self.reason}{allowed}"


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
        if path.is_dir():
            for child in path.iterdir():
                if child.is_file() and child.name.lower() in BUNDLE_FILES:
                    self.members[child.name.lower()] = str(child)
        elif path.is_file() and zipfile.is_zipfile(path):
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError) as exc:
                raise BundleUnreadable(f"{path}: not a readable .zip ({exc})") from None
            for info in self._zip.infolist():
                if info.is_dir():
                    continue
                parts = info.filename.split("/")
                if len(parts) > 2 or parts[-1].lower() not in BUNDLE_FILES:
                    continue
                self.members.setdefault(parts[-1].lower(), info.filename)
        elif not path.exists():
            raise BundleUnreadable(f"{path}: no such file or folder")
        else:
            raise BundleUnreadable(
                f"{path}: not a bundle (expected a folder or a .zip of CSV files)")
        if not self.members:
            raise BundleUnreadable(
                f"{path}: not a bundle: it holds none of {', '.join(BUNDLE_FILES)}")

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
        return open(member, "rb")

    def checksum(self, name: str) -> str:
        digest = hashlib.sha256()
        with self.open_binary(name) as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    def rows(self, row_type: type[InterchangeRow], problems: list[Problem],
             *, warn: bool = True) -> Iterator[RawRow]:
        """Stream the rows of one file; file and parse problems go to ``problems``.

        Rows whose bytes are not UTF-8 or whose quoting is broken are reported
        and not yielded. ``warn`` controls header warnings (given once per ingest).
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
            previous = lines.number
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
                    if "field larger than field limit" in message:
                        message = f"a cell is longer than {MAX_CELL:,} characters"
                    problems.append(Problem(name, start, None, f"malformed CSV: {message}"))
                    previous = lines.number
                    continue
                end = lines.number
                previous = end
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
                row = RawRow(start, {})
                for (canonical, is_extra), raw_cell in zip(columns, cells, strict=True):
                    cell = unprotect_cell(raw_cell)
                    if is_extra:
                        row.extras[canonical] = cell
                    else:
                        row.cells[canonical] = cell
                yield row

    @staticmethod
    def _map_header(row_type: type[InterchangeRow], header: list[str],
                    problems: list[Problem], warn: bool) -> list[tuple[str, bool]] | None:
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

    def rows(self, row_type: type[InterchangeRow], problems: list[Problem],
             *, warn: bool = True) -> Iterator[RawRow]:
        known = set(row_type.columns())
        for number, cells in enumerate(self._files.get(row_type.FILE, ()), start=2):
            row = RawRow(number, {})
            for column, cell in cells.items():
                if column in known:
                    row.cells[column] = cell
                else:
                    row.extras[extra_property(column)] = cell
            yield row


def open_bundle(path: str | Path) -> Bundle:
    return Bundle(Path(path))
