"""Configuration read from the environment (prefix ``GRIDMAP_``) and an optional ``.env`` file, one class
per concern. Every field is ``GRIDMAP_<FIELD>`` whichever class holds it, so the variables are one flat
namespace for operators; code reads ``settings.<concern>.<field>`` (``settings.lookup.nearest_m``).
``Settings(nearest_m=1)`` also takes any field by its flat name, which is how tests and tools change one."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET_KEY = "gridmap-development-secret-do-not-use-in-production"
_SOURCE = SettingsConfigDict(env_prefix="GRIDMAP_", env_file=".env", extra="ignore")


class DatabaseSettings(BaseSettings):
    """Where the database is and how connections to it behave."""

    model_config = _SOURCE

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded PostGIS cluster under data_dir/pg is used.",
    )
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=10, ge=1)
    pool_timeout_s: float = Field(default=5.0, gt=0)
    statement_timeout_ms: int = Field(default=2000, ge=0, description="0 disables the timeout.")


class LimitSettings(BaseSettings):
    """Bounds on what one request may ask for, and the anonymous rate limit."""

    model_config = _SOURCE

    lookup_batch_max: int = Field(default=10_000, ge=1, description="Most points in one POST /lookup.")
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Larger request bodies get 413.")
    lookup_body_max_bytes: int = Field(
        default=4_000_000, ge=1024, description="Body limit of POST /lookup, whose batches are bigger."
    )
    max_vertices: int = Field(default=2000, ge=4, description="Most vertices in one polygon a request may send.")
    area_query_max_km2: float = Field(
        default=50.0, gt=0, description="Largest polygon or circle POST /area accepts (km²)."
    )
    rate_limit_anonymous: int = Field(
        default=100, ge=0, description="Requests per window per IP without credentials; 0 turns the limit off."
    )
    rate_limit_window_s: float = Field(default=180.0, gt=0)


class LookupSettings(BaseSettings):
    """How a coordinate finds its owner."""

    model_config = _SOURCE

    nearest_m: float = Field(
        default=5.0,
        ge=0,
        le=1000,
        description="A point in no micro-grid goes to the nearest within this many metres.",
    )
    lookup_index: bool = Field(
        default=True,
        description="Answer lookups of now from an in-process index kept current by change notices (else SQL).",
    )


class IncidentSettings(BaseSettings):
    """The working calendar, repeat detection, routing thresholds, photos and escalation."""

    model_config = _SOURCE

    work_days: str = Field(default="1-5", description="ISO weekdays with working hours: '1-5', '1,2,3,4,5,6'.")
    work_hours: str = Field(default="09:00-12:00,14:00-18:00", description="Working hours of a working day.")
    holidays: str = Field(default="", description="Dates off although weekdays (法定节假日): '2026-10-01,2026-10-02'.")
    extra_workdays: str = Field(default="", description="Weekend dates that are working days (调休): '2026-10-11'.")
    repeat_m: float = Field(
        default=50.0, ge=0, le=1000, description="A report this close to an open case of its category joins it."
    )
    repeat_days: float = Field(default=7.0, ge=0, le=365, description="…also a case closed this many days ago or less.")
    boundary_confirm_m: float = Field(
        default=15.0, ge=0, le=500, description="Closer to a grid boundary: a dispatcher confirms the owner."
    )
    region_margin_m: float = Field(
        default=5000.0, ge=0, description="Reports farther than this from every subdistrict are refused."
    )
    address_min_confidence: float = Field(
        default=0.8, ge=0, le=1, description="A weaker address match waits for a location."
    )
    photo_max_bytes: int = Field(default=5_000_000, ge=1024, description="Largest photo upload.")
    escalate_every_s: float = Field(
        default=300.0, ge=0, description="How often the server escalates overdue cases; 0 = never."
    )


class MapSettings(BaseSettings):
    """Rendered maps: the optional base map and the size bound."""

    model_config = _SOURCE

    map_tiles_url: str | None = Field(
        default=None,
        description="Base map tiles for rendered maps ({z}/{x}/{y} URL); none by default, maps stay offline.",
    )
    map_tiles_attribution: str = Field(default="", description="Attribution shown for the base map tiles.")
    map_tiles_crs: Literal["wgs84", "gcj02"] = Field(
        default="wgs84",
        description="Datum of the base map tiles. Chinese services (AMap/Gaode, Tencent) draw in GCJ-02: set gcj02 "
        "and every shape is shifted onto them, else boundaries sit 100–700 m off.",
    )
    map_tiles_type: Literal["raster", "style"] = Field(
        default="raster",
        description="raster: map_tiles_url is a {z}/{x}/{y} image URL (every map page); style: it is a MapLibre "
        "style JSON URL (the city map only; the Leaflet pages then show the project's own layers as the base).",
    )
    map_max_zoom: int = Field(default=19, ge=10, le=22, description="Deepest zoom the map pages allow.")
    map_max_features: int = Field(default=30_000, ge=1, description="Most micro-grids one rendered map draws.")


class NotifySettings(BaseSettings):
    """Messages to citizens and workers (filed, dispatched, escalated): which sender delivers the outbox,
    where, and how hard it tries."""

    model_config = _SOURCE

    notify_sender: Literal["none", "webhook", "sms"] = Field(
        default="none",
        description="none: messages wait in the outbox; webhook: POST each as signed JSON to notify_webhook_url; "
        "sms: POST each to an SMS gateway (notify_sms_url).",
    )
    notify_webhook_url: str | None = Field(default=None, description="Where the webhook sender POSTs messages.")
    notify_webhook_secret: SecretStr = Field(
        default=SecretStr(""), description="Key of the X-Gridmap-Signature HMAC-SHA256 over each webhook body."
    )
    notify_sms_url: str | None = Field(default=None, description="The SMS gateway's send endpoint.")
    notify_sms_key: SecretStr = Field(default=SecretStr(""), description="Bearer key for the SMS gateway.")
    notify_sign: str = Field(default="网格通", max_length=12, description="The 【signature】 each message starts with.")
    notify_every_s: float = Field(default=2.0, ge=0, description="How often the server delivers the outbox; 0 = never.")
    notify_max_attempts: int = Field(default=8, ge=1, le=100, description="Attempts before a message is dead-lettered.")
    notify_backoff_s: float = Field(
        default=30.0, gt=0, description="Wait after the first failed attempt; it doubles with each further one."
    )
    notify_timeout_s: float = Field(default=10.0, gt=0, le=120, description="How long one delivery may take.")

    @model_validator(mode="after")
    def _sender_has_a_place(self) -> NotifySettings:
        # A sender chosen without its address must fail start-up, not dead-letter every message later.
        needed = {"webhook": self.notify_webhook_url, "sms": self.notify_sms_url}.get(self.notify_sender, "-")
        if not needed:
            raise ValueError(f"GRIDMAP_NOTIFY_SENDER={self.notify_sender} needs its URL (GRIDMAP_NOTIFY_"
                             f"{'WEBHOOK' if self.notify_sender == 'webhook' else 'SMS'}_URL)")  # fmt: skip
        return self


class SecuritySettings(BaseSettings):
    """Keys, sessions, who may read without credentials, proxies and login throttling."""

    model_config = _SOURCE

    secret_key: SecretStr = Field(
        default=SecretStr(DEFAULT_SECRET_KEY),
        description="Keys the HMAC under which session and API tokens are stored; changing it logs everyone out.",
    )
    session_hours: float = Field(default=12.0, gt=0, le=24 * 90, description="Lifetime of a login session.")
    public_lookup: bool = Field(
        default=True, description="Lookups and area reads without credentials (phone numbers are then masked)."
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto "
        "are believed; empty: none, every peer is the client itself.",
    )
    login_free_failures: int = Field(
        default=5, ge=1, description="Failed logins for one account before each further attempt must wait."
    )
    login_address_free_failures: int = Field(
        default=20, ge=1, description="Failed logins from one client address before each further attempt must wait."
    )
    login_delay_base_s: float = Field(
        default=1.0, gt=0, description="The first wait after the free failures; it doubles with each further one."
    )
    login_delay_max_s: float = Field(default=900.0, gt=0, description="The longest wait between login attempts.")
    login_hash_concurrency: int = Field(
        default=1, ge=1, description="Password checks (argon2) one server process runs at once."
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_addresses(cls, value: str) -> str:
        # A typo must fail start-up, not silently trust nothing (or something else).
        for item in filter(None, (part.strip() for part in value.split(","))):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or CIDR network") from None
        return value

    @property
    def trusted_proxy_networks(self) -> list[str]:
        """GRIDMAP_TRUSTED_PROXIES as normalised CIDR networks (``10.0.0.1`` → ``10.0.0.1/32``)."""
        items = filter(None, (part.strip() for part in self.trusted_proxies.split(",")))
        return [str(ipaddress.ip_network(item, strict=False)) for item in items]


_GROUPS: dict[str, type[BaseSettings]] = {
    "database": DatabaseSettings,
    "limits": LimitSettings,
    "lookup": LookupSettings,
    "incidents": IncidentSettings,
    "maps": MapSettings,
    "notify": NotifySettings,
    "security": SecuritySettings,
}


class Settings(BaseSettings):
    """The whole configuration: where the service runs and what zone its people live in, plus one group
    per concern (``database``, ``limits``, ``lookup``, ``incidents``, ``maps``, ``notify``, ``security``)."""

    model_config = _SOURCE

    data_dir: Path = Field(default=Path(".gridmap"), description="Embedded cluster, uploads, caches.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    static_dir: Path | None = Field(default=None, description="Defaults to the repository's static/.")
    timezone: str = Field(default="Asia/Shanghai", description="Zone of a date or time given without an offset (at=).")
    env: Literal["development", "production"] = Field(
        default="production", description="development allows the built-in secret key; production refuses it."
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    lookup: LookupSettings = Field(default_factory=LookupSettings)
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    maps: MapSettings = Field(default_factory=MapSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, data: Any) -> Any:
        # Settings(nearest_m=1): a field given by its flat name goes to its group, read with the environment
        # for the rest of that group (a given value wins over the environment, as for any field).
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key, group in _GROUPS.items():
            given = {name: data.pop(name) for name in list(data) if name in group.model_fields}
            if given and key not in data:
                data[key] = group(**given)
        return data

    @property
    def embedded_dir(self) -> Path:
        """Where the embedded PostGIS cluster lives."""
        return self.data_dir / "pg"
