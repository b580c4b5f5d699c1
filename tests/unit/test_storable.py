"""What PostgreSQL cannot store: the contract refuses it by name (a NUL), and a dead letter's
payload keeps everything else, with what cannot be stored replaced and counted."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from domain.contracts import NUL_REFUSED, ContractViolation, PlaceOrder, Restock, parse
from domain.storable import MAX_DEPTH, REPLACEMENT, TOO_DEEP, storable, storable_text
from tests.unit.test_contracts import good_order


@pytest.mark.parametrize(
    "change",
    [
        {"idempotency_key": "cart\x00-1"},
        {"customer_name": "Ada\x00"},
        {"payment_token": "\x00tok_ok"},
        {"shipping_address": {**good_order()["shipping_address"], "line2": "Flat\x002"}},
    ],
)
def test_given_a_nul_in_free_text_then_the_contract_refuses_it_by_name(
    change: dict[str, Any],
) -> None:
    [(field, value)] = change.items()
    path = field if isinstance(value, str) else f"{field}.line2"

    with pytest.raises(ContractViolation) as refused:
        parse(PlaceOrder, (), good_order(**change))

    assert str(refused.value) == f"{path}: {NUL_REFUSED}"


def test_given_a_nul_in_a_restock_reason_then_refused_by_name() -> None:
    with pytest.raises(ContractViolation) as refused:
        parse(Restock, (), {"sku": "A-1", "quantity": 1, "reason": "de\x00livery"})

    assert refused.value.field == "reason"


def test_given_an_ascii_internationalised_domain_then_taken_as_written_lower_cased() -> None:
    taken = parse(PlaceOrder, (), good_order(customer_email="Ada@XN--Bcher-Kva.DE"))

    assert taken.customer_email == "Ada@xn--bcher-kva.de"  # not decoded to bücher.de


def test_given_a_display_name_then_the_address_is_refused_as_the_schema_says() -> None:
    with pytest.raises(ContractViolation) as refused:
        parse(PlaceOrder, (), good_order(customer_email="Ada <ada@example.com>"))

    assert refused.value.field == "customer_email"


def test_given_a_payload_postgresql_can_store_then_kept_unchanged() -> None:
    payload = {
        "args": [],
        "kwargs": {"name": "\u202eevil \U0001f4a3", "n": 2**70, "x": 1.5, "deep": [[[["ok"]]]]},
    }

    kept, replaced = storable(payload)

    assert (kept, replaced) == (payload, 0)


def test_given_nul_surrogates_nan_and_deep_nesting_then_each_replaced_and_counted() -> None:
    deep: Any = "bottom"
    for _ in range(MAX_DEPTH + 50):
        deep = [deep]
    payload = {
        "nul": "a\x00b",
        "lone": "\ud800x\udfff",
        "pair": "\U0001f4a3",  # a real character, not a lone surrogate
        "key\x00": 1,
        "numbers": [math.nan, math.inf, -math.inf, 2.5],
        "deep": deep,
    }

    kept, replaced = storable(payload)

    assert kept["nul"] == f"a{REPLACEMENT}b"
    assert kept["lone"] == f"{REPLACEMENT}x{REPLACEMENT}"
    assert kept["pair"] == "\U0001f4a3"
    assert kept[f"key{REPLACEMENT}"] == 1
    assert kept["numbers"] == ["NaN", "Infinity", "-Infinity", 2.5]
    depth, inner = 0, kept["deep"]
    while isinstance(inner, list):
        depth, inner = depth + 1, inner[0]
    assert (depth, inner) == (MAX_DEPTH - 1, TOO_DEEP)
    assert replaced == 7
    json.dumps(kept, allow_nan=False).encode("utf-8")  # now plain JSON, valid UTF-8


def test_given_text_with_a_nul_then_replaced() -> None:
    assert storable_text("reason\x00") == f"reason{REPLACEMENT}"
    assert storable_text("plain") == "plain"
