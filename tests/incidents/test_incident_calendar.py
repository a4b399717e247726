"""The working calendar deadlines are counted on."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from gridmap.errors import InvalidInput
from gridmap.incidents.calendar import calendar_from_settings
from gridmap.settings import Settings
from tests.support.incident_setup import SHANGHAI


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)  # 2026-11-16 is a Monday


CAL = calendar_from_settings(Settings())


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        (at(18, 10), 60, at(18, 11)),  # plain working time
        (at(18, 11, 30), 60, at(18, 14, 30)),  # over the lunch break (12:00–14:00)
        (at(18, 7), 30, at(18, 9, 30)),  # before the day starts
        (at(20, 17, 30), 60, at(23, 9, 30)),  # Friday evening → Monday morning
        (at(21, 10), 60, at(23, 10)),  # received on a Saturday
        (at(18, 10), 480, at(19, 11)),  # a working day is 7 h here: 10–12, 14–18, then 9–11 next day
    ],
)
def test_working_minutes(start, minutes, due):
    assert CAL.add(start, minutes) == due


def test_continuous_categories_run_on_the_wall_clock():
    assert CAL.add(at(21, 23, 50), 15, continuous=True) == at(22, 0, 5)


def test_holidays_and_makeup_workdays():
    cal = calendar_from_settings(Settings(holidays="2026-11-23", extra_workdays="2026-11-22"))
    # Friday 17:30 + 60 min: the Sunday is a makeup working day (调休), so it is due then.
    assert cal.add(at(20, 17, 30), 60) == at(22, 9, 30)
    cal = calendar_from_settings(Settings(holidays="2026-11-23,2026-11-24"))
    assert cal.add(at(20, 17, 30), 60) == at(25, 9, 30)
    assert cal.is_workday(date(2026, 11, 25)) and not cal.is_workday(date(2026, 11, 24))


def test_six_day_week_and_other_hours():
    cal = calendar_from_settings(Settings(work_days="1-6", work_hours="08:30-17:30"))
    assert cal.add(at(20, 17), 60) == at(21, 9)
    assert cal.add(at(21, 17), 60) == at(23, 9)  # 30 min left on Saturday, 30 more from Monday 08:30


@pytest.mark.parametrize(
    ("setting", "value"),
    [("work_days", "8"), ("work_days", "mon-fri"), ("work_hours", "18:00-09:00"), ("work_hours", "9-12"),
     ("work_hours", "09:00-13:00,12:00-18:00"), ("holidays", "2026-13-01")],
)  # fmt: skip
def test_bad_calendar_settings_are_refused_clearly(setting, value):
    with pytest.raises(InvalidInput) as err:
        calendar_from_settings(Settings(**{setting: value}))
    assert err.value.field == setting
