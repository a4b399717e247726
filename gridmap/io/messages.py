"""Chinese for the reasons an import refuses a row.

The reasons are written once, in English, where each rule lives (gridmap.fields, the importer, the
geometry checks); this table gives each sentence pattern its Chinese form, so that the import report
is in Chinese by default and in English with ``--lang en``. A reason no pattern matches is shown as it
is (the test of this module imports every kind of bad row and finds none left in English)."""

from __future__ import annotations

import re

from gridmap.areas.levels import LEVEL_ZH

LANGS = ("zh", "en")

# Field names as a Chinese office calls them.
FIELD_NAMES = {
    "code": "编码", "name": "名称", "parent": "上级", "kind": "类型", "layer": "图层", "geometry": "几何",
    "households": "户数", "floors": "层数", "units": "单元数", "microgrid": "微网格", "compound": "小区",
    "type": "建筑类型", "branch": "党支部", "microgrids": "微网格", "phone": "电话", "role": "角色",
    "area": "所属区域", "party_cell": "党小组", "crs": "坐标系", "encoding": "编码格式", "file": "文件",
}  # fmt: skip
# Level names as they appear inside reasons ("a valid community code").
LEVEL_NAMES = LEVEL_ZH | {"micro-grid": "微网格", "building": "楼栋"}

_GEOMETRY = {
    "missing or unreadable geometry": "几何缺失或无法读取",
    "empty geometry": "几何为空",
    "3D coordinates (Z) are not accepted; give lon/lat only": "不接受三维坐标（Z），只给经纬度",
    "NaN or infinite coordinate": "坐标为 NaN 或无穷大",
}

# (English pattern, Chinese template): the groups of the pattern fill the template's {1}, {2}…
_PATTERNS: list[tuple[str, str]] = [
    (r"(\w+) is missing", "缺少{1}"),
    (r"(\w+) contains (.+)", "{1}含有不允许的字符（{2}）"),
    (r"(\w+) is longer than (\d+) characters", "{1}超过 {2} 个字符"),
    (r"(\w+) must be a whole number, got (.+)", "{1}必须是整数，实际为 {2}"),
    (r"(\w+) must be between (\S+) and (\S+), got (.+)", "{1}必须在 {2} 到 {3} 之间，实际为 {4}"),
    (r"(\w+) must be one of (.+), got (.+)", "{1}必须是以下之一：{2}；实际为 {3}"),
    (r"(\w+) must be a JSON object", "{1}必须是 JSON 对象"),
    (r"(\w+) is larger than (\d+) bytes", "{1}超过 {2} 字节"),
    (r"code (.+) is not a valid (\w+) \((\d+) digits\) code", "编码 {1} 不是有效的{2}编码（应为 {3} 位数字）"),
    (r"code (.+) is not a valid (.+) code", "编码 {1} 不是有效的{2}编码"),
    (r"duplicate code (\S+) \(also on row (\d+)\)", "编码 {1} 重复（第 {2} 行也有）"),
    (r"a subdistrict has no parent", "街道没有上级"),
    (r"parent \(the (\w+) code\) is missing", "缺少上级（{1}编码）"),
    (r"code (\S+) must start with its parent's code (\S+)", "编码 {1} 必须以上级编码 {2} 开头"),
    (r"layer (.+) must be lower-case letters, digits and _", "图层 {1} 只能含小写字母、数字和下划线"),
    (r"micro-grid (\S+) is already given to the cell on row (\d+)", "微网格 {1} 已分给第 {2} 行的党小组"),
    (r"phone (.+) is not a phone number", "{1} 不是电话号码"),
    (r"give the area or the party_cell the person works for", "请填写此人负责的区域或党小组"),
    (r"the same person and role appear on row (\d+)", "同一人员和角色在第 {1} 行已出现"),
    (r"orphan: parent (\S+) is not a current (\w+)", "上级 {1} 不是现有的{2}"),
    (r"micro-grid (.+) is not a current micro-grid", "微网格 {1} 不存在"),
    (r"area (\S+) is not a current area", "区域 {1} 不存在"),
    (r"party cell (\S+) does not exist", "党小组 {1} 不存在"),
    (r"expected a Polygon or MultiPolygon, got (\w+)", "应为面（Polygon 或 MultiPolygon），实际为 {1}"),
    (r"invalid geometry: (.+)", "几何无效：{1}"),
    (r"coordinate out of range: (.+)", "坐标超出范围：{1}"),
    (r"cannot read micro-grid entry (.+) \(expected (.+)\)", "无法读取微网格条目 {1}（应为 {2}）"),
    (r"empty or reversed range in (.+)", "{1} 中的范围为空或倒置"),
    (r"unit range (\S+) exceeds the building's (\d+) unit\(s\)", "单元范围 {1} 超出楼栋的 {2} 个单元"),
    (r"a floor range needs the building's floors", "按楼层划分需要楼栋的层数"),
    (r"floor range (\S+) exceeds the building's (\d+) floor\(s\)", "楼层范围 {1} 超出楼栋的 {2} 层"),
    (r"micro-grid entries (\S+) and (\S+) claim the same units/floors", "微网格条目 {1} 和 {2} 占用了相同的单元或楼层"),
    (r"refused by the database( \(rows .+\))?: (.+)", "数据库拒绝{1}：{2}"),
    (r"ignored column\(s\): (.+)", "未使用的列：{1}"),
    (r"status\(es\) taken as received: (.+)", "无法识别的状态，按“已受理”导入：{1}"),
    # reading the file (gridmap.io.read, encoding, columns)
    (r"no such file: (.+)", "找不到文件：{1}"),
    (r"cannot read (\S+): (.+)", "无法读取 {1}：{2}"),
    (r"(\S+) is not (\S+) text \((.+)\); pass --encoding", "{1} 不是 {2} 编码的文本（{3}）；请用 --encoding 指定编码"),
    (r"unknown encoding (.+): use utf-8, gbk or gb18030", "未知的编码格式 {1}：请用 utf-8、gbk 或 gb18030"),
    (
        r"unknown CRS (.+): use wgs84, gcj02, bd09 or EPSG:xxxx",
        "未知的坐标系 {1}：请用 wgs84、gcj02、bd09 或 EPSG:xxxx",
    ),
    (r"the file says its coordinates are (.+): expected one of (.+)", "文件标注的坐标系 {1} 无法识别：应为 {2} 之一"),
    (r"the file says its coordinates are in several systems: (.+)", "文件标注了多个坐标系：{1}"),
    (
        r"cannot read column mapping (.+): write file_column=import_column",
        "无法读取列名对应 {1}：请写成 文件列名=导入列名",
    ),
    (
        r"column (.+) of the mapping is not in the file \(its columns: (.*)\)",
        "列名对应中的列 {1} 不在文件中（文件的列：{2}）",
    ),
    (r"(.+) is not a column the (\S+) import reads \(use (.+)\)", "{1} 不是 {2} 导入读取的列（可用：{3}）"),
    (r"two columns would both be read as (.+)", "有两列都会被读作 {1}"),
    (r"no such mapping file: (.+)", "找不到列名对应文件：{1}"),
    (r"cannot read mapping file (\S+): (.+)", "无法读取列名对应文件 {1}：{2}"),
    (r"mapping file (\S+) must map column names to column names", "列名对应文件 {1} 必须是 列名→列名"),
    (r"unknown level (.+); use one of (.+)", "未知的层级 {1}：请用 {2} 之一"),
]
_COMPILED = [(re.compile(f"^{pattern}$"), template) for pattern, template in _PATTERNS]


def field_name(field: str | None, lang: str) -> str:
    """The column's name as shown in ``lang`` (the import name itself in English)."""
    if not field:
        return ""
    return FIELD_NAMES.get(field, field) if lang == "zh" else field


def in_language(reason: str, lang: str) -> str:
    """``reason`` (English) in ``lang``: Chinese through the pattern table, English unchanged."""
    if lang != "zh":
        return reason
    if reason in _GEOMETRY:
        return _GEOMETRY[reason]
    for pattern, template in _COMPILED:
        found = pattern.match(reason)
        if found:
            groups = [
                LEVEL_NAMES.get(g) or (field_name(g, "zh") if g in FIELD_NAMES else (g or "")) for g in found.groups()
            ]
            return template.format(None, *groups)
    return reason
