"""Contract v1: what other systems may send, and the errors they get when they don't."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from domain.contracts import (
    CancelOrder,
    ContractViolation,
    PlaceOrder,
    Restock,
    contract_document,
    parse,
)
from domain.validation import EMAIL_PATTERN

REPO = Path(__file__).resolve().parents[2]


def good_order(**change: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "idempotency_key": "cart-8812",
        "customer_email": "ada@example.com",
        "customer_name": "Ada Lovelace",
        "currency": "EUR",
        "lines": [{"sku": "demo-000001", "quantity": 2}],
        "shipping_address": {
            "name": "Ada Lovelace",
            "line1": "Unter den Linden 1",
            "city": "Berlin",
            "postal_code": "10117",
            "country": "DE",
        },
        "payment_token": "tok_ok",
    }
    payload.update(change)
    return {k: v for k, v in payload.items() if v is not None}


def field_of(payload: Any, model: type = PlaceOrder, args: tuple[Any, ...] = ()) -> str:
    with pytest.raises(ContractViolation) as caught:
        parse(model, args, payload)
    return caught.value.field


def test_given_good_order_then_parsed_with_skus_normalized() -> None:
    order = parse(PlaceOrder, (), good_order())
    assert order.lines[0].sku == "DEMO-000001"
    assert order.shipping_address.line2 is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer_email": "ada-at-example.com"}, "customer_email"),
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "k" * 101}, "idempotency_key"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "XXX"}, "currency"),
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "A-1", "quantity": 1}] * 2}, "lines"),
        ({"lines": [{"sku": "A-1", "quantity": 1001}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "A-1", "quantity": "2"}]}, "lines.0.quantity"),
        ({"lines": [{"sku": "A-1", "quantity": 1, "price": 5}]}, "lines.0.price"),
        (
            {"shipping_address": {"name": "A", "line1": "B", "city": "C", "postal_code": "1"}},
            "shipping_address.postal_code",
        ),
        ({"payment_token": None}, "payment_token"),
        ({"discount": 10}, "discount"),
    ],
)
def test_given_bad_order_then_the_error_names_the_field(change: dict[str, Any], field: str) -> None:
    assert field_of(good_order(**change)) == field


def test_given_unknown_field_then_message_says_it_is_not_in_the_contract() -> None:
    with pytest.raises(ContractViolation, match=r"^coupon: unknown field \(not in the v1"):
        parse(PlaceOrder, (), good_order(coupon="FREE"))


def test_given_positional_payload_then_refused_as_not_an_object() -> None:
    assert field_of({}, args=("just a string",)) == "payload"


def test_given_cancel_and_restock_then_their_rules_hold() -> None:
    assert field_of({"order_number": "123", "reason": "x"}, CancelOrder) == "order_number"
    assert field_of({"sku": "A-1", "quantity": 0, "reason": "x"}, Restock) == "quantity"
    restock = parse(Restock, (), {"sku": "a-1", "quantity": 5, "reason": "delivery"})
    assert (restock.sku, restock.idempotency_key) == ("A-1", None)


def test_given_published_schema_then_it_matches_the_code_and_validates_payloads() -> None:
    published = json.loads((REPO / "docs" / "contract-v1.json").read_text())
    assert published == json.loads(json.dumps(contract_document())), (
        "docs/contract-v1.json is stale: run `backroom contract > docs/contract-v1.json`"
    )
    schema = published["tasks"]["orders.place"]["kwargs"]
    jsonschema.validate(good_order(), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(good_order(coupon="FREE"), schema)
    assert {task["queue"] for task in published["tasks"].values()} == {"orders"}


def test_given_a_contract_violation_then_celery_passes_it_on_as_itself() -> None:
    from celery import Celery
    from celery.utils.serialization import get_pickleable_exception

    from domain.errors import RuleViolated

    refusal = ContractViolation("lines.0.sku", "unknown SKU NOPE-1")
    rule = RuleViolated("ck_x", "stock on hand can never go below zero (ck_x)")
    backend = Celery(backend="cache+memory://").backend

    in_worker = [get_pickleable_exception(error) for error in (refusal, rule)]
    at_caller = [
        backend.exception_to_python(backend.prepare_exception(error, "json"))
        for error in (refusal, rule)
    ]

    for passed in (in_worker, at_caller):
        assert [type(error) for error in passed] == [ContractViolation, RuleViolated]
        assert [str(error) for error in passed] == [str(refusal), str(rule)]
        assert (passed[0].field, passed[1].rule) == ("lines.0.sku", "ck_x")


@pytest.mark.parametrize(
    "address",
    ["zoë@example.com", "ada@bücher.de", "用户@例子.广告"],  # valid internationalised addresses
)
def test_given_an_address_the_database_would_refuse_then_the_contract_refuses_it_by_name(
    address: str,
) -> None:
    with pytest.raises(ContractViolation) as raised:
        parse(PlaceOrder, (), good_order(customer_email=address))

    assert raised.value.field == "customer_email"
    assert "the shop takes ASCII addresses only" in str(raised.value)


@pytest.mark.parametrize(
    "address", ["ada@example.com", "ADA.Lovelace+shop@Example.CO.UK", "o'brien@example.ie"]
)
def test_given_an_address_the_contract_takes_then_the_databases_rule_takes_it_too(
    address: str,
) -> None:
    taken = parse(PlaceOrder, (), good_order(customer_email=address)).customer_email

    assert re.fullmatch(EMAIL_PATTERN, taken.lower())
