"""Best-effort line numbers for a key path in a TOML file (tomllib gives none)."""

from __future__ import annotations

import re
from collections.abc import Sequence


def _next_header(lines: list[str], start: int) -> int:
    for n in range(start, len(lines)):
        if lines[n].lstrip().startswith("["):
            return n
    return len(lines)


def _headers(lines: list[str], lo: int, hi: int, name: str, array: bool) -> list[int]:
    esc = re.escape(name)
    pat = re.compile(rf"\s*\[\[\s*{esc}\s*\]\]" if array else rf"\s*\[\s*{esc}\s*\](?!\])")
    return [n for n in range(lo, hi) if pat.match(lines[n])]


def _key_line(lines: list[str], lo: int, hi: int, key: str) -> int | None:
    pat = re.compile(rf"\s*\"?{re.escape(key)}\"?\s*=")
    for n in range(lo, hi):
        if pat.match(lines[n]):
            return n
    return None


def find_line(text: str, loc: Sequence[str | int]) -> int | None:
    """1-based line of ``loc`` (e.g. ``("stations", 3, "type")``) or of its nearest parent."""
    lines = text.splitlines()
    lo, hi = 0, _next_header(lines, 0)
    best: int | None = None
    prefix: list[str] = []
    i = 0
    while i < len(loc):
        key = loc[i]
        if not isinstance(key, str):
            break
        dotted = ".".join([*prefix, key])
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(nxt, int):
            found = _headers(lines, 0, len(lines), dotted, array=True)
            if nxt < len(found):
                lo = found[nxt]
                hi = _next_header(lines, lo + 1)
                best, prefix = lo, [*prefix, key]
                i += 2
                continue
            line = _key_line(lines, lo, hi, key)
            return (line if line is not None else best or 0) + 1 if (line or best) else None
        tables = _headers(lines, 0, len(lines), dotted, array=False)
        if tables:
            lo = tables[0]
            hi = _next_header(lines, lo + 1)
            best, prefix = lo, [*prefix, key]
            i += 1
            continue
        line = _key_line(lines, lo, hi, key)
        if line is not None:
            return line + 1
        if any(ln.lstrip().startswith(f"[{dotted}.") for ln in lines):
            prefix.append(key)  # only sub-tables ([vehicle_types.leaf]) are written out
            i += 1
            continue
        break
    return None if best is None else best + 1
