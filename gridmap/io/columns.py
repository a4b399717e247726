"""Which of a file's columns is which import column.

An office's file names its columns as the office does: 编码, 网格名称, 所属社区, 户数. Chinese names of every
import column are recognised by default (``ALIASES``), and a mapping the caller gives (``--map
编码=code,名称=name``, or a saved mapping file) comes first. Column names are matched trimmed and
case-insensitively; what no rule names is left as it is (the importer reports it as ignored)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from gridmap.areas.levels import AREA_LEVELS, COLUMNS
from gridmap.errors import InvalidInput

# Columns the reader itself understands besides the import columns: geometry as WKT, points as lon/lat.
READER_COLUMNS = ("geometry", "wkt", "geom", "lon", "lat")

_AREA = {
    "code": ("编码", "代码", "编号", "区划代码", *(f"{level}{word}" for level in ("街道", "社区", "网格", "微网格")
                                                for word in ("编码", "代码", "编号"))),
    "name": ("名称", "名字", "网格名称", "微网格名称", "社区名称", "街道名称"),
    "parent": ("上级", "上级编码", "上级代码", "父级", "父级编码", "所属", "所属编码", "所属街道", "所属社区",
               "所属网格", "parent_code"),
    "kind": ("类型", "网格类型", "种类"),
    "layer": ("图层", "专题", "专题类型", "专属类型"),
}  # fmt: skip
_COMMON = {"lon": ("经度", "x", "lng"), "lat": ("纬度", "y"), "geometry": ("几何", "wkt_geom", "shape")}
ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    **{level: _AREA for level in AREA_LEVELS},
    "buildings": {
        "code": ("编码", "代码", "编号", "楼栋编码", "楼栋编号", "建筑编码", "building_code"),
        "name": ("名称", "名字", "楼栋名称", "楼名", "建筑名称"),
        "compound": ("小区", "小区名称", "所属小区", "院落"),
        "type": ("类型", "楼栋类型", "建筑类型", "用途", "building_type"),
        "households": ("户数", "住户数", "户", "总户数"),
        "floors": ("层数", "楼层", "楼层数", "总层数"),
        "units": ("单元", "单元数"),
        "microgrid": ("微网格", "所属微网格", "微网格编码"),
    },
    "party-cells": {
        "code": ("编码", "代码", "编号", "党小组编码"),
        "name": ("名称", "党小组", "党小组名称"),
        "branch": ("党支部", "支部", "所属支部"),
        "microgrids": ("微网格", "联系微网格", "微网格编码"),
    },
    "people": {
        "name": ("姓名", "名字", "名称"),
        "phone": ("电话", "手机", "手机号", "联系电话", "手机号码"),
        "role": ("角色", "职务", "岗位"),
        "area": ("区域", "所属区域", "负责区域", "网格", "微网格"),
        "party_cell": ("党小组", "所属党小组"),
    },
}


def _key(name) -> str:
    return str(name).strip().lower()


def parse_mapping(text: str) -> dict[str, str]:
    """``编码=code,名称=name,上级=parent`` (also ``:`` for ``=``, and ``，`` ``;`` or new lines between pairs)
    as {file column: import column}; InvalidInput naming the pair that is not ``a=b``."""
    pairs = [p.strip() for p in re.split(r"[,，;；\n]", text) if p.strip() and not p.strip().startswith("#")]
    out: dict[str, str] = {}
    for pair in pairs:
        parts = re.split(r"\s*[=:：]\s*", pair, maxsplit=1)
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise InvalidInput(f"cannot read column mapping {pair!r}: write file_column=import_column", "map")
        out[parts[0].strip()] = parts[1].strip()
    return out


def load_mapping(path: str | Path) -> dict[str, str]:
    """A saved mapping: a JSON object {file column: import column}, or lines ``file_column=import_column``
    (``#`` starts a comment). InvalidInput when the file is missing or unreadable."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"no such mapping file: {path}", "map")
    text = path.read_text(encoding="utf-8-sig")
    if text.lstrip().startswith("{"):
        try:
            found = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"cannot read mapping file {path.name}: {exc}", "map") from exc
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in found.items()):
            raise InvalidInput(f"mapping file {path.name} must map column names to column names", "map")
        return found
    return parse_mapping(text)


def rename_for(level: str | None, columns: list[str], mapping: dict[str, str] | None = None) -> dict[str, str]:
    """{file column: import column} for the ``columns`` of a file read as ``level``: ``mapping`` first,
    then the level's Chinese names (``ALIASES``) for the import columns the file does not already have.
    InvalidInput when the mapping names a column the file lacks, a target the level does not read, or two
    columns would become one."""
    present = {_key(c): c for c in columns}
    targets = set(COLUMNS.get(level, ())) | set(READER_COLUMNS) if level else None
    out: dict[str, str] = {}
    for source, target in (mapping or {}).items():
        if _key(source) not in present:
            raise InvalidInput(
                f"column {source!r} of the mapping is not in the file (its columns: {', '.join(map(str, columns))})",
                "map",
            )
        if targets is not None and _key(target) not in targets:
            raise InvalidInput(
                f"{target!r} is not a column the {level} import reads (use {', '.join(sorted(targets))})", "map"
            )
        out[present[_key(source)]] = _key(target)
    taken = {_key(c) for c in columns if c not in out} | set(out.values())
    for target, names in {**(ALIASES.get(level, {}) if level else {}), **_COMMON}.items():
        if target in taken:
            continue
        found = next((present[_key(n)] for n in names if _key(n) in present and present[_key(n)] not in out), None)
        if found is not None:
            out[found] = target
            taken.add(target)
    kept = {_key(c) for c in columns if c not in out}
    chosen = list(out.values())
    clash = sorted({t for t in chosen if chosen.count(t) > 1 or t in kept})
    if clash:
        raise InvalidInput(f"two columns would both be read as {', '.join(clash)}", "map")
    return {s: t for s, t in out.items() if _key(s) != t}
