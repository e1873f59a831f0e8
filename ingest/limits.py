"""How large one row of an input file may be, and reading lines without holding a larger one in memory.

One row is one statement: a rule of thumb or a story runs to a few kilobytes, an ETHICS post to some tens. A
row past ``MAX_ROW_BYTES`` is a reject with its line number, never a batch lost: the store's parser refuses a
literal over 16 MiB outright (the whole batch with it, and a resume would meet the same row forever), and a
50 MB row once took 2 GB of memory on its way there. Lines are read in bounded pieces, so an oversized one costs
its size in disk reads, not in memory.
"""

from __future__ import annotations

from typing import IO

MAX_ROW_BYTES = 1 << 20
# What a reject keeps of an oversized line, to recognise it by.
HEAD_BYTES = 200


def read_line(fh: IO[bytes], limit: int = MAX_ROW_BYTES) -> tuple[bytes, int]:
    """The next physical line and its size in bytes. A line over ``limit`` comes back as its first
    ``HEAD_BYTES`` only, the rest read past in pieces; ``b""`` with size 0 at the end of the file."""
    line = fh.readline(limit + 1)
    if len(line) <= limit or line.endswith(b"\n"):
        return line, len(line)
    size = len(line)
    while True:
        piece = fh.readline(1 << 20)
        size += len(piece)
        if not piece or piece.endswith(b"\n"):
            return line[:HEAD_BYTES], size


class TooLong(bytes):
    """The head of a line over the limit, with the line's real size (for readers that hand raw lines around)."""

    size: int

    def __new__(cls, head: bytes, size: int) -> "TooLong":
        obj = super().__new__(cls, head)
        obj.size = size
        return obj


def read_raw(fh: IO[bytes], limit: int = MAX_ROW_BYTES) -> bytes:
    """``read_line`` as one value: the line, or a ``TooLong``; ``size_of`` gives the bytes it took."""
    line, size = read_line(fh, limit)
    return TooLong(line, size) if size > limit else line


def size_of(raw: bytes) -> int:
    return raw.size if isinstance(raw, TooLong) else len(raw)


def oversized(size: int, limit: int = MAX_ROW_BYTES) -> str:
    return f"a line of {size:,} bytes is over the limit of {limit:,} bytes for one row"
