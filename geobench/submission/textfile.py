"""Reading a submitted text file defensively: size limit, encoding, binary junk, line numbers.

Policy on byte-order marks: refused, in every file. The leaderboard reads the files as plain UTF-8
(:mod:`geobench.aggregate.inputs`: ``json.loads`` refuses a BOM), so a file with one would pass
here and then break every leaderboard rebuild; the error says how to save the file without it.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from geobench.submission.report import Report

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")
_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32", b"\x00\x00\xfe\xff": "UTF-32",
    b"\xff\xfe": "UTF-16", b"\xfe\xff": "UTF-16",
}  # fmt: skip
UTF8_BOM = b"\xef\xbb\xbf"
BOM_MESSAGE = ("file starts with a UTF-8 byte-order mark (BOM), which the leaderboard cannot read: "
               "save it as plain UTF-8, without BOM (editors offer 'UTF-8' beside 'UTF-8 with BOM'), "
               "or delete the first 3 bytes: sed -i '1s/^\\xEF\\xBB\\xBF//' FILE")


def split_lines(text: str) -> list[str]:
    """Lines with their terminators, split where a text editor breaks lines (\\n, \\r\\n, \\r)."""
    return _LINE.findall(text)


def line_of_offset(data: bytes | str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of character/byte ``offset``."""
    head = data[:offset]
    nl = b"\n" if isinstance(data, bytes) else "\n"
    line = head.count(nl) + 1  # type: ignore[arg-type]
    return line, offset - (head.rfind(nl) + 1) + 1  # type: ignore[arg-type]


def _human(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KiB"


def read_text(path: Path, display: str, limit: int, report: Report) -> str | None:
    """The file's text (UTF-8), or None after reporting why it cannot be used: too large, empty,
    a byte-order mark, binary, not UTF-8."""
    try:
        size = os.stat(path).st_size
        if size > limit:
            report.error(display, None, f"file is {_human(size)}; the limit is {_human(limit)} "
                         "(the official leaderboard refuses files over 10 MiB)")
            return None
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        report.error(display, None, f"cannot read the file: {exc.strerror or exc}")
        return None
    if not data.strip():
        report.error(display, None, "file is empty")
        return None
    for bom, name in _BOMS.items():
        if data.startswith(bom):
            report.error(display, None, f"file is {name}-encoded; save it as UTF-8")
            return None
    if data.startswith(UTF8_BOM):
        report.error(display, None, BOM_MESSAGE)
        return None
    nul = data.find(b"\x00")
    if nul >= 0:
        line, col = line_of_offset(data, nul)
        report.error(display, line, f"NUL byte at column {col}: this is binary data, not a text "
                     "file (or UTF-16: save it as UTF-8)")
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = line_of_offset(data, exc.start)
        report.error(display, line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at column "
                     f"{col}); save the file as UTF-8")
        return None
    return text


def control_chars(text: str, allow: str = "") -> list[str]:
    """The distinct control/format characters in ``text`` (not in ``allow``), as U+XXXX names."""
    found = {c for c in text if c not in allow and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co")}
    return [f"U+{ord(c):04X}" for c in sorted(found)]
