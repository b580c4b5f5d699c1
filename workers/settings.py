"""Backroom's settings, read from `BACKROOM_*` environment variables and an optional `.env`.

`load_settings()` is the only way the rest of the code gets them: a wrong value raises
`SettingsError` whose message is one line naming the variable, which the command line prints
before it exits.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    EmailStr,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.secrets import Sealer

ENV_PREFIX = "BACKROOM_"
_DB_SCHEMES = ("postgresql", "postgresql+psycopg2")
_BROKER_SCHEMES = ("redis", "rediss", "redis+socket", "amqp", "amqps", "pyamqp")
_BACKEND_SCHEMES = ("redis", "rediss", "redis+socket", "db+postgresql", "rpc")
_EMAILS: TypeAdapter[list[EmailStr]] = TypeAdapter(list[EmailStr])


class SettingsError(ValueError):
    """A setting has a value Backroom cannot start with; the message names the variable."""


def _scheme_of(url: str) -> str:
    return url.split("://", 1)[0] if "://" in url else ""


def _check_scheme(url: str | None, allowed: tuple[str, ...]) -> str | None:
    if url is not None and _scheme_of(url) not in allowed:
        raise ValueError(f"URL scheme must be one of {', '.join(allowed)}")
    return url


class Settings(BaseSettings):
    """Every knob Backroom has. Unset server URLs mean: use the embedded servers."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: str | None = None
    db_prepare: bool = True  # plan hot statements once per connection (off behind a pooler
    # in transaction mode, which does not keep a client on one server session)
    broker_url: str | None = None
    result_backend: str | None = None
    # The shop's IANA time zone (`zone`): the beat's crontabs are read in it, and a reorder
    # request is made once per SKU per day of it.
    timezone: str = "UTC"
    data_dir: str = ".backroom"

    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: EmailStr = "backroom@localhost.localdomain"
    smtp_tls: bool = False

    # Who gets the nightly report (comma-separated in the variable), saved under
    # `<data_dir>/reports/YYYY-MM-DD/` whoever gets it.
    report_recipients: Annotated[list[EmailStr], NoDecode] = Field(default_factory=list)

    flower_user: str = "admin"
    flower_password: SecretStr | None = None
    # RabbitMQ's management API (`http://user:password@host:15672/api/`), for Flower's
    # Broker page on RabbitMQ (on Redis, Flower reads the queues from the broker itself).
    flower_broker_api: SecretStr | None = None

    # `text` (default): one readable line per event; `json`: one JSON object per line, for a
    # log collector. Both carry the task id, task name, order number and step where known.
    log_format: Literal["text", "json"] = "text"

    # The keys that seal payment tokens at rest (comma-separated Fernet keys in the variable):
    # the first seals, every one opens, so a new key goes first and old ones stay until what
    # they sealed is gone. None: a key of this machine, `<data_dir>/secret.key` (made once).
    secret_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    mailer: Literal["smtp", "file"] = "smtp"  # file: the simulated provider, .eml files
    sweep_interval: float = Field(default=30.0, gt=0)  # seconds between sweeps (beat)
    # An order that has not moved for this long is re-driven; a step's message not yet run after
    # this long is sent again. Both must exceed the longest queueing delay you expect, or a
    # backlog gets duplicate messages (harmless: every step is idempotent, but wasted work).
    sweep_stuck_after: float = Field(default=600.0, gt=0)
    sweep_publish_after: float = Field(default=600.0, ge=0)
    # Finished scheduled runs (`backroom schedule history`) are deleted by the sweep after this
    # many days; more than every entry's catch-up lookback, so no slot can be claimed again.
    schedule_keep_days: int = Field(default=14, ge=2)
    # An order still unpaid this many seconds after it was placed is cancelled and its stock
    # released (the beat's `inventory.expire_reservations`).
    reservation_hold: float = Field(default=900.0, gt=0)
    # A customer email the mail server cannot take now is tried again after this many seconds,
    # the wait doubling up to `mail_retry_max`; after `mail_attempts` tries it fails for good
    # (a dead letter). The defaults ride out an outage of about two hours.
    mail_retry_after: float = Field(default=30.0, gt=0)
    mail_retry_max: float = Field(default=900.0, gt=0)
    mail_attempts: int = Field(default=12, ge=1)
    visibility_timeout: int = Field(default=3600, ge=5)  # Redis: unacked messages come back after
    broker_key_prefix: str = ""  # Redis: prefix every key, so environments can share a server

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        return _check_scheme(value, _DB_SCHEMES)

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str | None) -> str | None:
        return _check_scheme(value, _BROKER_SCHEMES)

    @field_validator("result_backend")
    @classmethod
    def _result_backend(cls, value: str | None) -> str | None:
        return _check_scheme(value, _BACKEND_SCHEMES)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    @field_validator("report_recipients", mode="before")
    @classmethod
    def _recipients(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",")]
            return _EMAILS.validate_python([part for part in parts if part])
        return value

    @field_validator("secret_keys", mode="before")
    @classmethod
    def _secret_keys(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list) and value:
            plain = [k.get_secret_value() if isinstance(k, SecretStr) else str(k) for k in value]
            Sealer(plain)  # each one a Fernet key, or the error says which is not
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def _mask_credentials(value: str) -> str:
    """`scheme://user:secret@host` -> `scheme://user:***@host`: never print a password."""
    return re.sub(r"(://[^:/@]*:)[^@/]*@", r"\1***@", value)


def _describe(error: ValidationError) -> str:
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "?"
    message = str(first["msg"]).removeprefix("Value error, ")
    value = first.get("input")
    if "password" in field or "secret" in field or isinstance(value, dict):
        shown = ""
    elif isinstance(value, str):
        shown = f" (got {_mask_credentials(value)!r})"
    else:
        shown = f" (got {value!r})"
    more = len(error.errors()) - 1
    extra = f"; and {more} more problem(s)" if more else ""
    return f"{ENV_PREFIX}{field.upper()}: {message}{shown}{extra}"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, or raise `SettingsError` with one line naming the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(_describe(error)) from None
