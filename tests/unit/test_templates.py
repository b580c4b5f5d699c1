"""Customer email templates: every kind renders, money reads right, HTML is escaped."""

from __future__ import annotations

from typing import Any

import pytest

from domain.notifications import (
    KIND_HEADER,
    Kind,
    NotificationContextError,
    format_money,
    render,
)

ORDER = "ORD-20261127-ABC123"


def line(sku: str, name: str, quantity: int, unit_price: int) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": name,
        "quantity": quantity,
        "unit_price": unit_price,
        "total_price": quantity * unit_price,
    }


def context(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "order_number": ORDER,
        "customer_name": "Ada Lovelace",
        "currency": "USD",
        "total_amount": 4497,
        "lines": [line("MUG-01", "Mug", 2, 1249), line("TEA-02", "Tea", 1, 1999)],
        "shipping_address": {
            "name": "Ada Lovelace",
            "line1": "12 St James's Square",
            "line2": "Flat 3",
            "city": "London",
            "postal_code": "SW1Y 4JH",
            "country": "GB",
        },
        "tracking_number": "1Z999AA10123456784",
        "carrier": "UPS",
        "reason": "one or more items are out of stock",
    }
    return base | changes


def render_kind(kind: Kind, **changes: Any) -> Any:
    return render(kind, context(**changes), to="ada@example.com", message_id=f"{ORDER}.{kind}")


@pytest.mark.parametrize("kind", list(Kind))
def test_given_each_kind_when_rendered_then_both_bodies_name_the_order_and_money(
    kind: Kind,
) -> None:
    email = render_kind(kind)
    assert email.html is not None
    for body in (email.text, email.html):
        assert ORDER in body
        assert "19.99 USD" in body
        assert "44.97 USD" in body
        assert "Ada Lovelace" in body
        assert "Flat 3" in body
    assert ORDER in email.subject
    assert email.to == "ada@example.com"
    assert email.message_id == f"{ORDER}.{kind.value}"
    assert email.headers == {KIND_HEADER: kind.value}


@pytest.mark.parametrize(
    ("kind", "subject"),
    [
        (Kind.ORDER_CONFIRMED, f"Your order {ORDER} is confirmed"),
        (Kind.ORDER_SHIPPED, f"Your order {ORDER} has shipped"),
        (Kind.ORDER_CANCELLED, f"Your order {ORDER} was cancelled"),
        (Kind.PAYMENT_FAILED, f"Payment for order {ORDER} failed"),
    ],
)
def test_given_each_kind_then_the_subject_says_what_happened(kind: Kind, subject: str) -> None:
    assert render_kind(kind).subject == subject


def test_given_a_shipped_order_then_carrier_and_tracking_number_are_shown() -> None:
    email = render_kind(Kind.ORDER_SHIPPED)
    assert email.html is not None
    for body in (email.text, email.html):
        assert "UPS" in body
        assert "1Z999AA10123456784" in body


def test_given_a_reason_then_both_bodies_say_it_as_given() -> None:
    cancelled = render_kind(Kind.ORDER_CANCELLED)
    declined = render_kind(Kind.PAYMENT_FAILED, reason="the card has expired")
    assert cancelled.html is not None
    assert declined.html is not None
    assert "because one or more items are out of stock." in cancelled.text
    assert "one or more items are out of stock." in cancelled.html
    assert ": the card has expired." in declined.text
    assert "the card has expired." in declined.html


def test_given_no_customer_name_then_the_greeting_is_neutral() -> None:
    email = render_kind(Kind.ORDER_CONFIRMED, customer_name=None)
    assert email.text.startswith("Hello,\n")
    assert email.html is not None
    assert "<p>Hello,</p>" in email.html
    assert "None" not in email.text + email.html


def test_given_no_second_address_line_then_none_is_printed() -> None:
    address = context()["shipping_address"] | {"line2": None}
    email = render_kind(Kind.ORDER_CONFIRMED, shipping_address=address)
    assert email.html is not None
    assert "None" not in email.text + email.html


def test_given_markup_in_a_customer_name_then_the_html_escapes_it() -> None:
    email = render_kind(Kind.ORDER_CONFIRMED, customer_name="<script>alert(1)</script>")
    assert email.html is not None
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert "<script>alert(1)</script>" in email.text  # plain text is not HTML


def test_given_a_missing_variable_then_rendering_fails_naming_it() -> None:
    values = context()
    del values["tracking_number"]
    with pytest.raises(NotificationContextError, match="tracking_number"):
        render(Kind.ORDER_SHIPPED, values, to="ada@example.com", message_id="m1")


def test_given_a_line_without_a_field_then_rendering_fails() -> None:
    lines = [{"sku": "MUG-01", "quantity": 1, "unit_price": 100, "total_price": 100}]
    with pytest.raises(NotificationContextError, match="name"):
        render_kind(Kind.ORDER_CONFIRMED, lines=lines)


def test_given_yen_then_amounts_have_no_decimals() -> None:
    email = render_kind(Kind.ORDER_CONFIRMED, currency="JPY", total_amount=4497)
    assert "4,497 JPY" in email.text


@pytest.mark.parametrize(
    ("cents", "currency", "shown"),
    [
        (1999, "USD", "19.99 USD"),
        (123400, "EUR", "1,234.00 EUR"),
        (0, "USD", "0.00 USD"),
        (5, "GBP", "0.05 GBP"),
        (123456789012, "USD", "1,234,567,890.12 USD"),
        (1500, "JPY", "1,500 JPY"),
        (50000, "KRW", "50,000 KRW"),
        (1234, "KWD", "1.234 KWD"),
    ],
)
def test_given_cents_when_formatted_then_the_amount_reads_right(
    cents: int, currency: str, shown: str
) -> None:
    assert format_money(cents, currency) == shown


def test_given_a_negative_amount_then_formatting_refuses() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_money(-1, "USD")


@pytest.mark.parametrize("amount", [19.99, "1999", True])
def test_given_something_other_than_integer_cents_then_formatting_refuses(amount: Any) -> None:
    with pytest.raises(ValueError, match="integer"):
        format_money(amount, "USD")


def test_given_a_malformed_currency_then_formatting_refuses() -> None:
    with pytest.raises(ValueError, match="currency"):
        format_money(100, "usd")
