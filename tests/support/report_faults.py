"""Ways to damage a credential report CSV, for the fault proxy's ``rewrite`` mode."""

from __future__ import annotations

from collections.abc import Callable


def drop_column(name: str) -> Callable[[bytes], bytes]:
    """The report without the column ``name`` (AWS changed its format)."""

    def transform(csv: bytes) -> bytes:
        lines = csv.decode("utf-8").splitlines()
        index = lines[0].split(",").index(name)
        out = []
        for line in lines:
            fields = line.split(",")
            del fields[index]
            out.append(",".join(fields))
        return ("\n".join(out) + "\n").encode("utf-8")

    return transform


def truncate(csv: bytes) -> bytes:
    """Cut in the middle of a row, as a broken download would."""
    lines = csv.splitlines(keepends=True)
    return lines[0] + lines[1][: len(lines[1]) // 2]


def garble(csv: bytes) -> bytes:
    """Bytes that are not UTF-8 CSV at all."""
    return b"\x89PNG\r\n\x1a\n" + bytes(range(256)) + csv[:40]
