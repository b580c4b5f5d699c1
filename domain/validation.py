"""Small value checks shared by models and services (the database checks the same again)."""

from __future__ import annotations

import re

from domain.errors import InvalidValue

EMAIL_PATTERN = r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9-]+)+$"
SKU_PATTERN = r"^[A-Z0-9-]{3,50}$"
_EMAIL = re.compile(EMAIL_PATTERN)
_SKU = re.compile(SKU_PATTERN)
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def normalize_email(value: str) -> str:
    """Lower-case and check an address; raise `InvalidValue` naming it if it is malformed."""
    email = value.strip().lower()
    if len(email) > 255 or not _EMAIL.fullmatch(email):
        raise InvalidValue(f"invalid email address {value!r}")
    return email


def normalize_sku(value: str) -> str:
    sku = value.strip().upper()
    if not _SKU.fullmatch(sku):
        raise InvalidValue(f"invalid SKU {value!r}: 3-50 of A-Z, 0-9 and '-'")
    return sku


def sql_literal(value: str) -> str:
    """Quote a constant for a CHECK constraint's SQL text."""
    return "'" + value.replace("'", "''") + "'"


def check_slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise InvalidValue(f"invalid slug {value!r}: lower-case words joined by '-'")
    return value


def check_currency(value: str) -> str:
    if not _CURRENCY.fullmatch(value):
        raise InvalidValue(f"invalid currency {value!r}: a 3-letter ISO 4217 code")
    return value
