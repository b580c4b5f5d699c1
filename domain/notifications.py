"""Customer emails: one Jinja2 template pair (text and HTML) per kind of notification.

`render()` turns a kind and a context of plain values (no ORM objects) into the port's `Email`.
The templates live in `domain/templates/`; HTML is autoescaped, and a variable the template
needs but the context lacks is an error (`NotificationContextError`), never a blank.
Money is integer minor units ("cents") plus an ISO 4217 code; it is formatted without floats.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from typing import Any

import jinja2

from domain.errors import InvalidValue
from domain.ports import Email
from domain.validation import check_currency

KIND_HEADER = "X-Backroom-Kind"


class Kind(StrEnum):
    """What happened to the order; the value names the templates and goes in the header."""

    ORDER_CONFIRMED = "order_confirmed"
    ORDER_SHIPPED = "order_shipped"
    ORDER_CANCELLED = "order_cancelled"  # out of stock or on request: the context has `reason`
    PAYMENT_FAILED = "payment_failed"


class NotificationContextError(InvalidValue):
    """The context lacks a value the email needs (a bug in whoever built the context)."""


_COMMON = (
    "order_number",
    "customer_name",
    "currency",
    "total_amount",
    "lines",
    "shipping_address",
)
_REQUIRED: dict[Kind, tuple[str, ...]] = {
    Kind.ORDER_CONFIRMED: _COMMON,
    Kind.ORDER_SHIPPED: (*_COMMON, "tracking_number", "carrier"),
    Kind.ORDER_CANCELLED: (*_COMMON, "reason"),
    Kind.PAYMENT_FAILED: (*_COMMON, "reason"),
}
_SUBJECTS: dict[Kind, str] = {
    Kind.ORDER_CONFIRMED: "Your order {order_number} is confirmed",
    Kind.ORDER_SHIPPED: "Your order {order_number} has shipped",
    Kind.ORDER_CANCELLED: "Your order {order_number} was cancelled",
    Kind.PAYMENT_FAILED: "Payment for order {order_number} failed",
}

# ISO 4217 minor units where they are not 2 (the others, USD, EUR, GBP…, have 2).
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"),
        0,
    ),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def minor_units(currency: str) -> int:
    """How many decimals `currency` has: 2 unless ISO 4217 says otherwise (JPY 0, KWD 3)."""
    return _MINOR_UNITS.get(check_currency(currency), 2)


def format_money(cents: int, currency: str) -> str:
    """`1999, "USD"` -> `19.99 USD`; `123400, "EUR"` -> `1,234.00 EUR`; `5000, "JPY"` -> `5,000 JPY`

    `cents` is the amount in the currency's minor unit; integer arithmetic only.
    """
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise InvalidValue(f"money must be integer minor units, got {cents!r}")
    if cents < 0:
        raise InvalidValue(f"cannot show a negative amount ({cents} {currency}) to a customer")
    decimals = minor_units(currency)
    if decimals == 0:
        return f"{cents:,} {currency}"
    major, minor = divmod(cents, 10**decimals)
    return f"{major:,}.{minor:0{decimals}d} {currency}"


def render(kind: Kind, context: Mapping[str, Any], *, to: str, message_id: str) -> Email:
    """The email for `kind`, with text and HTML bodies, ready for a `Mailer`."""
    kind = Kind(kind)
    _check_context(kind, context)
    return Email(
        to=to,
        subject=_SUBJECTS[kind].format(order_number=context["order_number"]),
        text=_render_template(f"{kind.value}.txt.j2", context),
        html=_render_template(f"{kind.value}.html.j2", context),
        message_id=message_id,
        headers={KIND_HEADER: kind.value},
    )


def _check_context(kind: Kind, context: Mapping[str, Any]) -> None:
    missing = [name for name in _REQUIRED[kind] if name not in context]
    if missing:
        raise NotificationContextError(f"the {kind.value} email needs {', '.join(missing)}")


def _render_template(name: str, context: Mapping[str, Any]) -> str:
    try:
        body = _environment().get_template(name).render(context)
    except jinja2.UndefinedError as error:
        raise NotificationContextError(f"template {name}: {error.message}") from error
    return body.strip() + "\n"


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("domain", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["money"] = format_money
    return environment
