"""The working-hours calendar deadlines are counted on (工作日 and 工作时间, holidays, 调休 makeup days)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from gridmap.errors import InvalidInput

# Ten years of days: a deadline further away means a broken calendar (no working hours at all).
_MAX_DAYS = 3660


@dataclass(frozen=True)
class Calendar:
    """Working days and hours in one time zone."""

    tz: ZoneInfo
    weekdays: frozenset[int]  # ISO: Monday 1 … Sunday 7
    hours: tuple[tuple[time, time], ...]
    holidays: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()

    def is_workday(self, day: date) -> bool:
        """True when ``day`` has working hours."""
        if day in self.extra_workdays:
            return True
        return day.isoweekday() in self.weekdays and day not in self.holidays

    def add(self, start: datetime, minutes: float, continuous: bool = False) -> datetime:
        """The instant ``minutes`` of working time after ``start`` (of wall-clock time when ``continuous``)."""
        if continuous:
            return start + timedelta(minutes=minutes)
        remaining = timedelta(minutes=minutes)
        t = start.astimezone(self.tz)
        for _ in range(_MAX_DAYS):
            day = t.date()
            if self.is_workday(day):
                for begin, end in self.hours:
                    s = max(t, datetime.combine(day, begin, self.tz))
                    e = datetime.combine(day, end, self.tz)
                    if s >= e:
                        continue
                    if s + remaining <= e:
                        return s + remaining
                    remaining -= e - s
            t = datetime.combine(day + timedelta(days=1), time(0), self.tz)
        raise InvalidInput("the working calendar has no working hours; check GRIDMAP_WORK_DAYS and WORK_HOURS")


def _weekdays(text: str) -> frozenset[int]:
    days: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        lo, _, hi = part.partition("-")
        if not lo.isdigit() or (hi and not hi.isdigit()):
            raise InvalidInput(f"work days must look like '1-5' or '1,2,3'; got {text!r}", "work_days")
        days.update(range(int(lo), int(hi or lo) + 1))
    if not days or not days <= set(range(1, 8)):
        raise InvalidInput(f"work days are ISO weekdays 1 (Monday) … 7 (Sunday); got {text!r}", "work_days")
    return frozenset(days)


def _hours(text: str) -> tuple[tuple[time, time], ...]:
    spans = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            lo, hi = part.split("-")
            spans.append((time.fromisoformat(lo.strip()), time.fromisoformat(hi.strip())))
    except ValueError:
        raise InvalidInput(f"work hours must look like '09:00-12:00,14:00-18:00'; got {text!r}", "work_hours") from None
    if not spans or any(a >= b for a, b in spans) or any(spans[i][1] > spans[i + 1][0] for i in range(len(spans) - 1)):
        raise InvalidInput(f"work hours must be ordered, non-overlapping spans; got {text!r}", "work_hours")
    return tuple(spans)


def _dates(text: str, what: str) -> frozenset[date]:
    try:
        return frozenset(date.fromisoformat(p.strip()) for p in text.split(",") if p.strip())
    except ValueError:
        raise InvalidInput(f"{what} must be ISO dates separated by commas; got {text!r}", what) from None


def calendar_from_settings(settings) -> Calendar:
    """The calendar the settings describe (GRIDMAP_WORK_DAYS, WORK_HOURS, HOLIDAYS, EXTRA_WORKDAYS, TIMEZONE)."""
    return Calendar(
        tz=ZoneInfo(settings.timezone),
        weekdays=_weekdays(settings.incidents.work_days),
        hours=_hours(settings.incidents.work_hours),
        holidays=_dates(settings.incidents.holidays, "holidays"),
        extra_workdays=_dates(settings.incidents.extra_workdays, "extra_workdays"),
    )
