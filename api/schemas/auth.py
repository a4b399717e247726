"""Request shape of the login."""

from __future__ import annotations

from pydantic import Field

from api.schemas.common import Strict


class LoginIn(Strict):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)
