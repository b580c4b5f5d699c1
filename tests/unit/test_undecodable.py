"""`workers.undecodable`: which messages are not tasks; `workers.message_letter`: what their
dead letter keeps.

Messages are kombu's own `Message`, decoded by kombu as the worker decodes them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import pickle
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from kombu.message import Message

from workers.message_letter import BODY_LIMIT, HEAD, NO_NAME, Refusal, describe
from workers.undecodable import judge

ACCEPT = {"application/json"}
EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
TASK_ID = "5d1c0b8e-0000-4000-8000-000000000001"
V2 = {"task": "orders.place", "id": TASK_ID, "lang": "py"}


def msg(
    body: bytes,
    headers: dict[str, Any] | None = None,
    content_type: str | None = "application/json",
    **properties: Any,
) -> Message:
    return Message(
        body=body,
        content_type=content_type,
        content_encoding="utf-8",
        headers=V2 if headers is None else headers,
        properties=properties,
        delivery_info={"routing_key": "orders"},
        accept=ACCEPT,
    )


def v2(kwargs: dict[str, Any]) -> bytes:
    return json.dumps([[], kwargs, EMBED]).encode()


def verdict(message: Message) -> Refusal | None:
    return judge(
        message.headers,
        message.content_type,
        len(message.body),
        message.decode,
        known={"orders.place"},
        accept=ACCEPT,
    )


def never(_: Any = None) -> Any:
    raise AssertionError("the body was decoded")


def test_given_a_protocol_2_json_task_of_a_known_task_then_it_is_a_task() -> None:
    assert verdict(msg(v2({"idempotency_key": "k"}))) is None


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        (
            msg(b"{not json"),
            "body is not valid JSON: Expecting property name enclosed in double quotes:"
            " line 1 column 2 (char 1)",
        ),
        (msg(v2({}), {**V2, "task": "orders.nope"}), "unknown task orders.nope"),
        (msg(v2({}), {"lang": "py"}), "missing headers 'task' and 'id'"),
        (msg(v2({}), {"task": "orders.place"}), "missing header 'id'"),
        (msg(v2({}), {**V2, "task": ["orders.place"]}), "header 'task' is not a string"),
        (
            msg(json.dumps({"args": [], "kwargs": {}}).encode()),
            "body is not a protocol 2 task body [args, kwargs, embed]",
        ),
        (msg(b'[[], "kwargs", {}]'), "body is not a protocol 2 task body [args, kwargs, embed]"),
        (
            msg(v2({}), content_type=None),
            "content type (none) is not accepted (application/json only)",
        ),
    ],
)
def test_given_a_message_that_is_not_a_task_then_the_reason_names_what_is_wrong(
    message: Message, reason: str
) -> None:
    refusal = verdict(message)

    assert refusal is not None
    assert refusal.reason == reason


def test_given_a_pickle_then_refused_by_its_content_type_and_never_decoded() -> None:
    refusal = judge(
        V2,
        "application/x-python-serialize",
        10,
        never,
        known={"orders.place"},
        accept=ACCEPT,
    )

    assert refusal == Refusal(
        "content type application/x-python-serialize is not accepted (application/json only)",
        task="orders.place",
        task_id=TASK_ID,
    )


def test_given_a_body_over_the_limit_then_refused_by_its_size_and_never_decoded() -> None:
    refusal = judge(
        V2, "application/json", BODY_LIMIT + 1, never, known={"orders.place"}, accept=ACCEPT
    )

    assert refusal is not None
    assert refusal.reason == f"body is {BODY_LIMIT + 1:,} bytes, over the 1,048,576-byte limit"
    assert (refusal.task, refusal.task_id) == ("orders.place", TASK_ID)


def test_given_a_protocol_1_message_then_refused_naming_the_task_and_id_in_its_body() -> None:
    body = {"task": "orders.place", "id": TASK_ID, "args": [], "kwargs": {"x": 1}}

    refusal = verdict(msg(json.dumps(body).encode(), {}))

    assert refusal is not None
    assert refusal.reason.startswith("protocol 1 message (task, id, args and kwargs in the body")
    assert (refusal.task, refusal.task_id) == ("orders.place", TASK_ID)


def test_given_no_headers_then_the_letter_has_no_task_name_and_no_id() -> None:
    refusal = verdict(msg(v2({}), {}))

    assert refusal is not None
    assert (refusal.task, refusal.task_id) == (NO_NAME, None)


def test_given_a_json_body_then_kept_parsed_whole_without_the_argument_reprs() -> None:
    body = v2({"payment_token": "tok_x"})
    headers = {**V2, "argsrepr": "()", "kwargsrepr": "{'payment_token': 'tok_x'}"}

    payload, cut = describe(msg(body, headers, correlation_id=TASK_ID))

    assert cut is None
    assert payload["body"] == [[], {"payment_token": "tok_x"}, EMBED]
    assert payload["body_encoding"] == "json"
    assert payload["headers"] == V2
    assert payload["properties"] == {"correlation_id": TASK_ID}
    assert (payload["body_size"], payload["body_sha256"]) == (
        len(body),
        hashlib.sha256(body).hexdigest(),
    )
    assert (payload["content_type"], payload["content_encoding"]) == ("application/json", "utf-8")


def test_given_a_pickle_then_its_bytes_are_kept_as_base64() -> None:
    body = pickle.dumps({"a": 1})

    payload, cut = describe(msg(body, content_type="application/x-python-serialize"))

    assert cut is None
    assert payload["body_encoding"] == "base64"
    assert base64.b64decode(payload["body"]) == body


def test_given_text_that_is_not_json_then_kept_as_text() -> None:
    payload, _ = describe(msg(b"{not json"))

    assert (payload["body_encoding"], payload["body"]) == ("text", "{not json")


def test_given_a_big_json_body_then_its_strings_are_cut_and_its_shape_kept() -> None:
    body = v2({"customer_name": "x" * 2 * BODY_LIMIT, "payment_token": "tok_x"})

    payload, cut = describe(msg(body))

    assert cut is not None
    assert cut.startswith("kept its size, sha256 and JSON with each string cut to 1,024")
    kwargs = payload["body"][1]
    assert kwargs["payment_token"] == "tok_x"
    assert kwargs["customer_name"] == "x" * 1024 + "... [2,097,152 characters, cut]"
    assert payload["body_size"] == len(body)


def test_given_a_big_body_still_big_once_cut_then_its_first_64_kib_are_kept() -> None:
    body = json.dumps([["y" * 1024] * 100] * 100).encode()  # 100 x 100 strings at the cut

    payload, cut = describe(msg(body))

    assert cut == "kept its size, sha256 and first 65,536 bytes"
    assert payload["body_encoding"] == "text"
    assert payload["body"] == body[:HEAD].decode()


def test_given_a_body_nested_too_deep_to_walk_then_kept_as_text() -> None:
    body = b"[" * 900 + b"]" * 900

    payload, cut = describe(msg(body))

    assert cut is None
    assert (payload["body_encoding"], payload["body"]) == ("text", body.decode())


def test_given_amqp_header_values_that_are_not_json_then_kept_as_strings_and_base64() -> None:
    at = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    headers = {**V2, "sent": at, "price": Decimal("9.99"), "raw": b"\x00\xff"}

    payload, _ = describe(msg(v2({}), headers))

    assert payload["headers"]["sent"] == str(at)
    assert payload["headers"]["price"] == "9.99"
    assert payload["headers"]["raw"] == {"base64": "AP8="}
    json.dumps(payload)  # JSON through and through
