"""Which text encoding a file sent by a Chinese office is in.

Offices export from Excel, ArcGIS and older Chinese GIS software, which write GBK (Windows code page 936)
or GB18030 rather than UTF-8, and often say nothing: a Shapefile without its ``.cpg``, a CSV without a
byte-order mark. Read as the usual default (UTF-8, or ISO-8859-1 for a Shapefile) every Chinese name
turns into mojibake ("ÁúÌÁÉçÇø") or the read fails. Where the file declares its encoding that is used;
otherwise the bytes decide: strict UTF-8 first (a GBK text almost never decodes as UTF-8), then GBK, then
GB18030 (its superset), then charset-normalizer's best guess for anything else.

Vocabulary: ``given`` (``--encoding``), ``declared`` (the file says so: a BOM, a ``.cpg``, the dBase
language byte), ``detected`` (from the bytes)."""

from __future__ import annotations

import codecs
from pathlib import Path

import charset_normalizer

from gridmap.errors import InvalidInput

# Enough bytes to see many names, not the whole of a city-sized file.
SAMPLE_BYTES = 1 << 20
_LADDER = ("utf-8", "gbk", "gb18030")
# dBase language driver IDs (byte 29 of a .dbf header) that name a Chinese code page. Others (0, or 0x57
# "ANSI", which many writers stamp on any file) are not trusted: the bytes decide.
_DBF_LANGUAGE = {0x4D: "gbk", 0x7A: "gbk"}


def check(name: str) -> str:
    """The canonical name of encoding ``name`` (``--encoding``), or InvalidInput when Python knows no such."""
    try:
        return codecs.lookup(name.strip()).name
    except (LookupError, AttributeError) as exc:
        raise InvalidInput(f"unknown encoding {name!r}: use utf-8, gbk or gb18030", "encoding") from exc


def detect(data: bytes) -> str:
    """The encoding ``data`` decodes in: 'utf-8', 'gbk', 'gb18030', or charset-normalizer's guess ('utf-8'
    when it has none). ``data`` may be cut anywhere (a character split at the end is not held against it)."""
    for name in _LADDER:
        try:
            codecs.getincrementaldecoder(name)(errors="strict").decode(data, final=False)
        except UnicodeDecodeError:
            continue
        return name
    best = charset_normalizer.from_bytes(data).best()
    return check(best.encoding) if best is not None else "utf-8"


def head(path: Path, start: int = 0) -> bytes:
    """Up to ``SAMPLE_BYTES`` of ``path`` from byte ``start``."""
    with path.open("rb") as f:
        f.seek(start)
        return f.read(SAMPLE_BYTES)


def of_csv(path: Path) -> tuple[str, str]:
    """(encoding, 'declared'|'detected') of a CSV: a UTF-8 byte-order mark declares 'utf-8-sig'."""
    data = head(path)
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "declared"
    return detect(data), "detected"


def of_shapefile(path: Path) -> tuple[str, str]:
    """(encoding, 'declared'|'detected') of a Shapefile's attributes: its ``.cpg``, else the language byte of
    its ``.dbf``, else the bytes of the records (the header is binary and is skipped)."""
    cpg = next((p for p in (path.with_suffix(".cpg"), path.with_suffix(".CPG")) if p.exists()), None)
    if cpg is not None:
        text = cpg.read_text(encoding="ascii", errors="replace").strip()
        name = {"936": "gbk", "65001": "utf-8", "utf8": "utf-8"}.get(text.lower(), text)
        return check(name), "declared"
    dbf = next((p for p in (path.with_suffix(".dbf"), path.with_suffix(".DBF")) if p.exists()), None)
    if dbf is None:
        return "utf-8", "detected"
    header = head(dbf)[:32]
    if len(header) < 32:
        return "utf-8", "detected"
    declared = _DBF_LANGUAGE.get(header[29], None)
    if declared is not None:
        return declared, "declared"
    records_from = int.from_bytes(header[8:10], "little")
    return detect(head(dbf, records_from)), "detected"
