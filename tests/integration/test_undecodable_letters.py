"""`workers.message_letter.keep` against PostgreSQL: whatever a sender puts in a message that is
not a task, its dead letter is stored, with its payment token sealed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from kombu.message import Message
from sqlalchemy import Engine, text

from domain.db import session_factory
from domain.secrets import Sealer
from tests.e2e.harness import rows
from workers.message_letter import Refusal, keep
from workers.undecodable import judge


@pytest.fixture
def engine_without_letters(engine: Engine) -> Iterator[Engine]:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM dead_letters"))
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM dead_letters"))


def message(body: bytes, headers: dict[str, Any]) -> Message:
    return Message(
        body=body,
        content_type="application/json",
        content_encoding="utf-8",
        headers=headers,
        properties={"correlation_id": "c" * 300},
        delivery_info={"routing_key": "q" * 300},
        accept={"application/json"},
    )


def test_given_a_message_with_what_postgresql_refuses_then_its_letter_is_stored_all_the_same(
    engine_without_letters: Engine,
) -> None:
    name = "orders." + "n" * 300 + "\x00"
    body = json.dumps(
        [[], {"note": "nul \x00 and lone \ud800", "payment_token": "tok_secret_1"}, {}]
    ).encode("utf-8", "surrogatepass")
    sent = message(body, {"task": name, "id": "i" * 300, "\x00key": "v\x00"})
    refusal = judge(
        sent.headers,
        sent.content_type,
        len(body),
        sent.decode,
        known=set(),
        accept={"application/json"},
    )
    assert isinstance(refusal, Refusal)

    letter_id = keep(session_factory(engine_without_letters), Sealer.ephemeral(), sent, refusal)

    [letter] = rows(
        engine_without_letters,
        "SELECT id, task, task_id, queue, reason, error_type, payload FROM dead_letters",
    )
    assert letter.id == letter_id
    assert letter.task == name[:100]
    assert (len(letter.task_id), len(letter.queue)) == (155, 50)
    assert letter.reason.startswith("unknown task orders.nnn")
    assert "part(s) PostgreSQL cannot store replaced" in letter.reason
    assert letter.error_type == "NotATask"
    kwargs = letter.payload["body"][1]
    assert kwargs["note"] == "nul \ufffd and lone \ufffd"
    assert kwargs["payment_token"]["$sealed"]
    assert "tok_secret_1" not in str(letter.payload)
    assert letter.payload["headers"]["\ufffdkey"] == "v\ufffd"


def test_given_a_letter_kept_without_its_body_then_size_and_sha256_stay(
    engine_without_letters: Engine,
) -> None:
    sent = message(b"{not json", {"task": "orders.place", "id": "1"})

    keep(
        session_factory(engine_without_letters),
        Sealer.ephemeral(),
        sent,
        Refusal("body is not valid JSON: ...", task="orders.place", task_id="1"),
        without_body="body not stored: DataError: ...",
    )

    [letter] = rows(engine_without_letters, "SELECT reason, payload FROM dead_letters")
    assert letter.reason == "body is not valid JSON: ...; body not stored: DataError: ..."
    assert letter.payload["body"] is None
    assert letter.payload["body_size"] == 9
    assert letter.payload["body_cut"] == "body not stored: DataError: ..."


def test_given_a_message_delivered_again_then_it_finds_its_letter_and_keeps_no_second(
    engine_without_letters: Engine,
) -> None:
    factory, sealer = session_factory(engine_without_letters), Sealer.ephemeral()
    refusal = Refusal("body is not valid JSON: ...", task="orders.place", task_id="7")
    first = message(b"{not json", {"task": "orders.place", "id": "7"})
    again = message(b"{not json", {"task": "orders.place", "id": "7"})
    other_body = message(b"{not json either", {"task": "orders.place", "id": "7"})

    kept = [keep(factory, sealer, sent, refusal) for sent in (first, again, other_body)]

    assert kept[0] == kept[1] != kept[2]
    assert len(rows(engine_without_letters, "SELECT id FROM dead_letters")) == 2
