"""Request shapes of the incident endpoints: intake, actions and category settings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from api.schemas.common import Strict
from gridmap.incidents.intake import CHANNELS
from gridmap.incidents.workflow import ACTIONS

Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Action = Literal[tuple(ACTIONS)]  # type: ignore[valid-type]


class Reporter(Strict):
    name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=30, examples=["13812345678"])


class IncidentCreate(Strict):
    category: str = Field(max_length=40, examples=["streetlight"])
    description: str = Field(min_length=1, max_length=4000, examples=["桥涵下路灯不亮"])
    channel: Channel = "api"
    lon: float | None = Field(default=None, description="Longitude in the query's crs.", examples=[114.0405])
    lat: float | None = Field(default=None, description="Latitude in the query's crs.", examples=[22.6187])
    address: str | None = Field(default=None, max_length=500, description="Address text, e.g. 民乐雅苑3栋.")
    building: str | None = Field(default=None, max_length=64, description="A building code.")
    reporter: Reporter | None = None
    photo_urls: list[str] = Field(default_factory=list, max_length=10)
    reported_at: datetime | None = Field(default=None, description="When the citizen reported it (default now).")
    external_id: str | None = Field(default=None, max_length=100, description="The channel's own id.")
    join_repeat: bool = Field(
        default=True, description="false: open a new case even when an open case of this kind is nearby."
    )


class IncidentAction(Strict):
    action: Action
    note: str | None = Field(default=None, max_length=2000)
    assignee: str | None = Field(default=None, max_length=200)
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    reason: str | None = Field(default=None, max_length=2000)
    report: int | None = Field(default=None, ge=1, le=2**63 - 1, description="split: the repeat report to separate.")
    lon: float | None = Field(default=None, description="reroute: a new location, in the query's crs.")
    lat: float | None = None
    building: str | None = Field(default=None, max_length=64, description="reroute: a building code.")
    person: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="dispatch/reassign: one of the case's assignment candidates."
    )


class DeadlineMinutes(Strict):
    dispatch: int = Field(ge=1, le=525_600)
    accept: int = Field(ge=1, le=525_600)
    handle: int = Field(ge=1, le=525_600)
    verify: int = Field(ge=1, le=525_600)


class CategoryPut(Strict):
    name: str = Field(min_length=1, max_length=100)
    name_zh: str = Field(min_length=1, max_length=100)
    calendar: Literal["working", "continuous"] = "working"
    active: bool = True
    deadline_minutes: DeadlineMinutes
