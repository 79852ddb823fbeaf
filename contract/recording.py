"""The recording format `barbell-recording/1` (SPEC section 3), read and written in chunks.

A recording is a CSV of IMU rows (t in s, specific force in m/s², angular rate in rad/s, sensor
frame) with optional per-side load-cell forces in N, after `# key: value` metadata lines. Files are
streamed, so a long session never has to fit in memory. Floats are written in their shortest exact
form, so a recording read back is bit-identical to what was written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from contract.columns import parse_block
from contract.errors import InputError

FORMAT = "barbell-recording/1"
IMU_COLUMNS = ("t", "ax", "ay", "az", "gx", "gy", "gz")
FORCE_COLUMNS = ("fl", "fr")

BLOCK_BYTES = 1 << 20  # of data rows, read and parsed at a time

# The spec's example annotates values, as in `# rate_hz: 1000   (nominal IMU rate)`.
_ANNOTATION = re.compile(r"\s+\(.*\)\s*$")


class RecordingError(InputError):
    """A malformed recording; its text is one line naming the file, line and column."""

    def __init__(self, path: Path | str, line: int, column: int, message: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {message}")
        self.path, self.line, self.column = str(path), line, column


@dataclass(frozen=True)
class Chunk:
    """Consecutive samples: t in s, accel in m/s² and gyro in rad/s (n×3, sensor frame).

    force_n is n×2 (left, right) in N with NaN where the ADC had no new sample, or None when
    the recording has no load cells.
    """

    t: np.ndarray
    accel_mps2: np.ndarray
    gyro_radps: np.ndarray
    force_n: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def __getitem__(self, index: slice | np.ndarray) -> Chunk:
        force = None if self.force_n is None else self.force_n[index]
        return Chunk(self.t[index], self.accel_mps2[index], self.gyro_radps[index], force)

    @staticmethod
    def concat(chunks: Iterable[Chunk]) -> Chunk:
        parts = list(chunks)
        forces = [c.force_n for c in parts]
        force: np.ndarray | None = None
        if all(f is not None for f in forces):
            force = np.concatenate(forces)  # type: ignore[arg-type]
        return Chunk(
            np.concatenate([c.t for c in parts]),
            np.concatenate([c.accel_mps2 for c in parts]),
            np.concatenate([c.gyro_radps for c in parts]),
            force,
        )

    def split(self, size: int) -> Iterator[Chunk]:
        """Pieces of at most `size` samples, as FIFO drains would deliver them."""
        for start in range(0, len(self), size):
            yield self[start : start + size]


@dataclass
class Header:
    """The metadata lines. Known keys are typed; unknown ones are kept but not interpreted."""

    rate_hz: float | None = None
    lift: str | None = None
    athlete: str | None = None
    bar_kg: float | None = None
    load_kg: float | None = None
    extra: dict[str, str] = field(default_factory=dict)
    has_force: bool = True

    _NUMBERS = ("rate_hz", "bar_kg", "load_kg")
    _POSITIVE = ("rate_hz",)  # the other numbers may be 0, none negative
    _TEXTS = ("lift", "athlete")

    def lines(self) -> list[str]:
        items: list[tuple[str, object]] = [("format", FORMAT)]
        items += [
            (key, getattr(self, key)) for key in ("rate_hz", *self._TEXTS, "bar_kg", "load_kg")
        ]
        items += list(self.extra.items())
        return [
            f"# {key}: {_number_text(v) if isinstance(v, float) else v}"
            for key, v in items
            if v is not None
        ]


class RecordingReader:
    """Reads the header at once and the samples lazily, chunk by chunk."""

    def __init__(self, path: Path | str, columnar: bool = True) -> None:
        """`columnar`: parse plain blocks by columns (columns.py); False reads every line
        one by one, as the blocks that are not plain are."""
        self.path = Path(path)
        self.columnar = columnar
        try:
            self._file: BinaryIO = self.path.open("rb")  # decoded as read: _decoded
        except OSError as exc:
            raise InputError(f"cannot read recording {self.path}: {exc.strerror}") from None
        self._line = 0
        self.duplicates = 0  # rows dropped for repeating the previous row's stamp
        self._last_t = -math.inf
        try:
            self.header, self._columns = self._read_header()
        except BaseException:
            self._file.close()
            raise

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    def _error(self, column: int, message: str) -> RecordingError:
        return RecordingError(self.path, self._line, column, message)

    def _decoded(self, lines: Iterable[bytes]) -> Iterator[str]:
        """Lines, counted; bytes that are not UTF-8 are a clear error."""
        for raw in lines:
            self._line += 1
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise self._error(exc.start + 1, f"is not UTF-8 text ({exc.reason})") from None

    def _read_header(self) -> tuple[Header, list[int]]:
        header = Header()
        for raw in self._decoded(self._file):
            text = raw.strip()
            if not text:
                continue
            if not text.startswith("#"):
                return header, self._parse_column_names(text, header)
            key, sep, value = text[1:].partition(":")
            key, value = key.strip(), _ANNOTATION.sub("", value.strip())
            if not sep:
                continue
            if key == "format" and value != FORMAT:
                raise self._error(1, f"format {value!r} is not {FORMAT}")
            if key in Header._NUMBERS:
                column = raw.index(value, raw.index(":")) + 1 if value else 1
                try:
                    number = float(value)
                except ValueError:
                    raise self._error(column, f"{key} {value!r} is not a number") from None
                positive = key in Header._POSITIVE
                if not (number > 0 if positive else number >= 0) or math.isinf(number):
                    bound = "above 0" if positive else "at least 0"
                    raise self._error(column, f"{key} {value} must be {bound}")
                setattr(header, key, number)
            elif key in Header._TEXTS:
                setattr(header, key, value)
            elif key != "format":
                header.extra[key] = value
        raise self._error(1, "no column header line (t,ax,ay,az,gx,gy,gz[,fl,fr])")

    def _parse_column_names(self, text: str, header: Header) -> list[int]:
        names = [name.strip() for name in text.split(",")]
        self._names, self._fields = names, len(names)
        missing = [name for name in IMU_COLUMNS if name not in names]
        if missing:
            raise self._error(1, f"header lacks column(s) {', '.join(missing)}")
        header.has_force = all(name in names for name in FORCE_COLUMNS)
        wanted = IMU_COLUMNS + (FORCE_COLUMNS if header.has_force else ())
        return [names.index(name) for name in wanted]

    def chunks(self, size: int = 4096) -> Iterator[Chunk]:
        """The samples in chunks of `size` rows (the last may be shorter), duplicates dropped."""
        rest = np.empty((0, len(self._columns)))
        for block in self._blocks():
            rows = np.concatenate([rest, block]) if len(rest) else block
            whole = len(rows) - len(rows) % size
            for start in range(0, whole, size):
                yield self._chunk(rows[start : start + size])
            rest = rows[whole:]
        if len(rest):
            yield self._chunk(rest)

    def _blocks(self) -> Iterator[np.ndarray]:
        """The data rows, a block of lines at a time: by columns where the block is plain
        numbers in time order (columns.py), else line by line."""
        wanted = IMU_COLUMNS + (FORCE_COLUMNS if self.header.has_force else ())
        while lines := self._file.readlines(BLOCK_BYTES):
            block = (
                parse_block(lines, self._names, wanted, len(IMU_COLUMNS), self._last_t)
                if self.columnar
                else None
            )
            if block is None:
                rows = self._parse_lines(lines)
            else:
                rows, self.duplicates = block.rows, self.duplicates + block.duplicates
                self._line += len(lines)
            if len(rows):
                self._last_t = float(rows[-1, 0])
                yield rows

    def _parse_lines(self, lines: list[bytes]) -> np.ndarray:
        """Rows parsed one by one: each error names its line and column."""
        columns = self._columns
        rows = np.empty((len(lines), len(columns)))
        n = 0
        last_t = self._last_t
        for raw in self._decoded(lines):
            if not raw.strip() or raw.startswith("#"):
                continue
            cells = raw.rstrip("\r\n").split(",")
            if len(cells) > self._fields:
                position = _field_offset(raw, self._fields) + 1
                message = f"row has {len(cells)} fields, the header {self._fields}"
                raise self._error(position, message)
            for j, col in enumerate(columns):
                cell = cells[col].strip() if col < len(cells) else None
                if cell is None:
                    raise self._error(len(raw.rstrip()) + 1, f"row has {len(cells)} fields")
                if cell == "" and j >= len(IMU_COLUMNS):
                    rows[n, j] = math.nan  # no new load-cell sample in this row
                    continue
                try:
                    rows[n, j] = float(cell)
                except ValueError:
                    position = _field_offset(raw, col) + 1
                    name = (IMU_COLUMNS + FORCE_COLUMNS)[j]
                    raise self._error(position, f"{name} {cell!r} is not a number") from None
            if rows[n, 0] == last_t:
                self.duplicates += 1  # a repeated stamp is the same row sent twice (SPEC)
                continue
            if not rows[n, 0] > last_t:
                raise self._error(1, f"t {rows[n, 0]:g} goes back (previous {last_t:g})")
            if rows[n, 0] < 0:
                raise self._error(1, f"t {rows[n, 0]:g} is before the recording began (0)")
            last_t = rows[n, 0]
            n += 1
        return rows[:n]

    def _chunk(self, rows: np.ndarray) -> Chunk:
        force = rows[:, 7:9].copy() if self.header.has_force else None
        return Chunk(rows[:, 0].copy(), rows[:, 1:4].copy(), rows[:, 4:7].copy(), force)


def read_recording(path: Path | str) -> tuple[Header, Chunk]:
    """The whole recording at once, for tests and short files."""
    with RecordingReader(path) as reader:
        chunks = list(reader.chunks())
        if not chunks:
            raise RecordingError(path, reader._line, 1, "no samples")
        return reader.header, Chunk.concat(chunks)


class RecordingWriter:
    """Appends chunks to a new recording file."""

    def __init__(self, path: Path | str, header: Header) -> None:
        self.path = Path(path)
        self.header = header
        self._file = self.path.open("w", encoding="utf-8", newline="")
        columns = IMU_COLUMNS + (FORCE_COLUMNS if header.has_force else ())
        self._file.write("\n".join([*header.lines(), ",".join(columns)]) + "\n")

    def write(self, chunk: Chunk) -> None:
        parts = [chunk.t[:, None], chunk.accel_mps2, chunk.gyro_radps]
        if self.header.has_force:
            if chunk.force_n is None:
                raise ValueError("this recording has load-cell columns; the chunk has none")
            parts.append(chunk.force_n)
        rows = np.hstack(parts).tolist()
        imu = len(IMU_COLUMNS)
        self._file.write(
            "".join(
                ",".join([*map(repr, row[:imu]), *map(_force_text, row[imu:])]) + "\n"
                for row in rows
            )
        )

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_recording(path: Path | str, header: Header, chunks: Iterable[Chunk]) -> None:
    with RecordingWriter(path, header) as writer:
        for chunk in chunks:
            writer.write(chunk)


def _number_text(value: float) -> str:
    """Shortest text that reads back to the same float."""
    return repr(float(value))


def _force_text(value: float) -> str:
    """A load-cell cell: empty where the ADC had no new sample."""
    return "" if math.isnan(value) else repr(value)


def _field_offset(raw: str, index: int) -> int:
    offset = 0
    for _ in range(index):
        offset = raw.index(",", offset) + 1
    return offset
