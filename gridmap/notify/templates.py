"""The messages, in Chinese, as a citizen or worker reads them on a phone: short, the case number first,
times in the local zone without seconds."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from gridmap.areas.levels import LEVEL_ZH

DEFAULT_SIGN = "网格通"

TEMPLATES = {
    "filed": "【{sign}】您反映的“{category}”问题已受理，案件编号 {case}，预计 {deadline} 前办结。",
    "joined": "【{sign}】您反映的“{category}”问题此前已有市民反映，已并入案件 {case} 一并办理。",
    "dispatched": "【{sign}】派工单 {case}：{category}，{place}。{summary} 请于 {due} 前受理。",
    "escalated": "【{sign}】案件 {case}（{category}，{place}）已上报至{level}，请于 {due} 前派遣。",
    "overdue": "【{sign}】案件 {case}（{category}，{place}）已超过处理时限 {missed}，请尽快处理。",
}
_SUMMARY_CHARS = 40


def local_time(instant: datetime | None, tz: ZoneInfo) -> str:
    """``instant`` as people read it: "12月2日 10:00" in ``tz`` (the year only when it is not this one's)."""
    if instant is None:
        return "—"
    t = instant.astimezone(tz)
    year = f"{t.year}年" if t.year != datetime.now(tz).year else ""
    return f"{year}{t.month}月{t.day}日 {t:%H:%M}"


def render(event: str, case: dict, tz: ZoneInfo, sign: str) -> str:
    """The text of ``event`` for ``case`` (keys: id, category_zh, place, description, due_at, deadline_at,
    missed_at, level)."""
    description = " ".join((case.get("description") or "").split())
    summary = description[:_SUMMARY_CHARS] + ("…" if len(description) > _SUMMARY_CHARS else "")
    return TEMPLATES[event].format(
        sign=sign, case=f"#{case['id']}", category=case["category_zh"], place=case.get("place") or "位置待定",
        summary=summary + ("。" if summary and not summary.endswith(("。", "…", "！", "？")) else ""),
        due=local_time(case.get("due_at"), tz), deadline=local_time(case.get("deadline_at"), tz),
        missed=local_time(case.get("missed_at"), tz), level=LEVEL_ZH.get(case.get("level") or "", "上一级"),
    )  # fmt: skip
