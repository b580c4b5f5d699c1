"""Payment tokens at rest: what a payment keeps of its token, as its order moves; no column of
any table holding a token; dead letters sealed, shown redacted and replayed with the token
(the `backroom` command line); and migration 0009 scrubbing rows written before it."""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

import migrations
from domain import secrets, steps
from domain.contracts import ContractViolation
from domain.db import make_engine
from domain.ports import PaymentDeclined, PaymentUnavailable
from domain.secrets import Sealer, SecretUnreadable
from domain.services import dead_letters, payments
from domain.uow import Step
from tests.integration.pipeline_helpers import (
    Pipeline,
    fresh_pipeline,
    order_state,
    payment_row,
    place_cmd,
    rows,
    scalar,
    stock_products,
)
from tests.integration.test_cli import backroom, broker_url, explain
from tests.token_scan import column_count, stored_in
from workers.adapters.payments import SimulatedGateway


def recognisable(kind: str = "tok_ok") -> str:
    """A token the simulated provider treats as `kind`, found nowhere else by chance."""
    return f"{kind}_{uuid.uuid4().hex}"


def details(engine: Engine, order_id: str) -> dict[str, Any]:
    found: dict[str, Any] = payment_row(engine, order_id)["details"]
    return found


def ledger_row(pipeline: Pipeline, key: str) -> dict[str, Any]:
    [row] = [row for row in pipeline.gateway.ledger() if row["key"] == key]
    return row


# --- what a payment keeps ----------------------------------------------------------------------


def test_given_an_order_placed_then_its_payment_keeps_the_token_sealed_and_its_fingerprint(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    token = recognisable()

    placed, _ = pipeline.place(place_cmd("key-1", {"TEE-1": 1}, token=token))

    kept = details(engine, placed.order_id)
    assert set(kept) == {secrets.FINGERPRINT, secrets.SEALED_TOKEN}
    assert kept[secrets.FINGERPRINT] == secrets.fingerprint(token)
    assert pipeline.ports.sealer.open(kept[secrets.SEALED_TOKEN]) == token


def test_given_a_captured_payment_then_only_the_fingerprint_stays_and_the_provider_saw_the_token(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    token = recognisable()
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 2}, token=token))

    pipeline.drain(placed_steps)

    assert order_state(engine, placed.order_id) == ("shipped", "captured")
    assert details(engine, placed.order_id) == {secrets.FINGERPRINT: secrets.fingerprint(token)}
    key = str(payment_row(engine, placed.order_id)["idempotency_key"])
    charged = ledger_row(pipeline, key)
    assert (charged["status"], charged["amount"]) == ("captured", 2 * 1250)
    assert charged["token_fingerprint"] == secrets.fingerprint(token)  # the very token


@pytest.mark.parametrize("ending", ["declined", "cancelled"])
def test_given_a_payment_declined_or_cancelled_then_its_sealed_token_is_dropped(
    pipeline: Pipeline, engine: Engine, ending: str
) -> None:
    stock_products(engine, {"TEE-1": 10})
    token = recognisable("tok_decline" if ending == "declined" else "tok_ok")
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 1}, token=token))

    if ending == "declined":
        pipeline.drain(placed_steps)
    else:
        pipeline.drain(placed_steps, until=steps.CAPTURE)
        pipeline.drain(pipeline.cancel(placed.order_number)[1])

    status = {"declined": "failed", "cancelled": "cancelled"}[ending]
    assert order_state(engine, placed.order_id) == ("cancelled", status)
    assert details(engine, placed.order_id) == {secrets.FINGERPRINT: secrets.fingerprint(token)}


def test_given_a_worker_without_the_key_when_capturing_then_it_stops_before_the_provider(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 10})
    placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 1}, token=recognisable()))
    pipeline.drain(placed_steps, until=steps.CAPTURE)
    with Session(engine) as s:
        asked = payments.request(s, uuid.UUID(placed.order_id))
    assert asked is not None

    with pytest.raises(SecretUnreadable, match="could not be opened"):
        payments.charge(pipeline.gateway, Sealer.ephemeral(), asked)

    assert pipeline.gateway.ledger() == []  # the provider was never called
    assert order_state(engine, placed.order_id) == ("confirmed", "pending")


# --- no token anywhere ---------------------------------------------------------------------------


def _captured(pipeline: Pipeline, capture: Step) -> list[Step]:
    """Run the capture, again after each passing fault, as its task's retries would."""
    for _ in range(5):
        try:
            return pipeline.run(capture)
        except PaymentUnavailable:
            continue
    raise AssertionError("the provider never answered")


def _every_ending(pipeline: Pipeline, engine: Engine) -> dict[str, str]:
    """Orders that end every way a payment can, a refused key reuse and a dead letter; the
    tokens they used, by what happened."""
    stock_products(engine, {"TEE-1": 50})
    kinds = {
        "captured": "tok_ok",
        "flaky": "tok_flaky",
        "declined": "tok_decline",
        "cancelled": "tok_ok",
        "pending": "tok_ok",
        "reused": "tok_ok",
        "letter": "tok_ok",
    }
    tokens = {name: recognisable(kind) for name, kind in kinds.items()}
    for name in ("captured", "flaky", "declined", "cancelled", "pending"):
        placed, placed_steps = pipeline.place(place_cmd(name, {"TEE-1": 1}, token=tokens[name]))
        [capture] = pipeline.drain(placed_steps, until=steps.CAPTURE)
        if name == "cancelled":
            pipeline.drain(pipeline.cancel(placed.order_number)[1])
        elif name != "pending":
            pipeline.drain(_captured(pipeline, capture))
    with pytest.raises(ContractViolation, match="already used for another request"):
        pipeline.place(place_cmd("captured", {"TEE-1": 1}, token=tokens["reused"]))
    with Session(engine) as s, s.begin():  # as a task that fails keeps its message
        dead_letters.record(
            s,
            task=steps.PLACE,
            task_id=str(uuid.uuid4()),
            queue="orders",
            payload={"args": [], "kwargs": {"payment_token": tokens["letter"], "coupon": "X"}},
            reason=f"coupon: unknown field (not in the v1 contract); token {tokens['letter']}",
            error_type="ContractViolation",
            sealer=pipeline.ports.sealer,
        )
    return tokens


def test_given_orders_that_end_every_way_then_no_column_of_any_table_holds_a_token(
    pipeline: Pipeline, engine: Engine
) -> None:
    tokens = _every_ending(pipeline, engine)

    hits = {name: stored_in(engine, token) for name, token in tokens.items()}

    assert hits == {name: [] for name in tokens}
    # the scan reads what it must: the fingerprints are found where they are kept
    print_ = secrets.fingerprint(tokens["captured"])
    assert stored_in(engine, print_) == [
        "payment_sim.payments.token_fingerprint",
        "public.payments.details",
    ]
    assert column_count(engine) > 300
    charged = "SELECT count(*) FROM payment_sim.payments WHERE status = 'captured'"
    assert scalar(engine, charged) == 2  # the plain one and the flaky one


# --- dead letters on the command line -----------------------------------------------------------


@pytest.fixture
def key() -> str:
    return secrets.new_key()


@pytest.fixture
def token() -> str:
    return recognisable()


@pytest.fixture
def letter_id(scratch_engine: Engine, key: str, token: str) -> int:
    """An `orders.place` that broke the contract, kept by a worker whose key is `key`."""
    payload = {
        "args": [],
        "kwargs": {"idempotency_key": "cart-9", "payment_token": token, "coupon": "FREE"},
    }
    with Session(scratch_engine) as s, s.begin():
        return dead_letters.record(
            s,
            task=steps.PLACE,
            task_id=str(uuid.uuid4()),
            queue="orders",
            payload=payload,
            reason="coupon: unknown field (not in the v1 contract)",
            error_type="ContractViolation",
            sealer=Sealer([key]),
        )


@pytest.fixture
def prefix() -> Iterator[str]:
    """A broker key prefix of the test's own; its keys are deleted afterwards."""
    prefix = f"backroom-test-secrets-{uuid.uuid4().hex[:10]}:"
    yield prefix
    server = redis.Redis.from_url(broker_url())
    for name in server.scan_iter(match=f"{prefix}*"):
        server.delete(name)
    server.close()


def queued(prefix: str, queue: str) -> list[tuple[dict[str, Any], Any]]:
    """The messages waiting in `queue` under `prefix`: (headers, decoded body) each."""
    server = redis.Redis.from_url(broker_url())
    try:
        raw = server.lrange(f"{prefix}{queue}", 0, -1)
    finally:
        server.close()
    found = []
    for item in raw:
        message = json.loads(item)
        body = json.loads(base64.b64decode(message["body"]))
        found.append((message["headers"], body))
    return found


def replay(
    letter_id: int, url: str, data_dir: Path, settings: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    argv = ("dead-letters", "replay", str(letter_id))
    return backroom(*argv, database_url=url, data_dir=data_dir, **settings)


def test_given_a_dead_letter_with_a_token_then_it_is_stored_sealed_and_shown_redacted(
    migrated: str, scratch_engine: Engine, letter_id: int, key: str, token: str, tmp_path: Path
) -> None:
    argv = ("dead-letters", "show", str(letter_id))
    shown = backroom(*argv, database_url=migrated, data_dir=tmp_path)
    listed = backroom("dead-letters", "list", database_url=migrated, data_dir=tmp_path)

    assert shown.returncode == 0, explain(shown)
    assert token not in shown.stdout + shown.stderr
    payload = json.loads(shown.stdout)["payload"]
    redacted = f"tok_…(fingerprint {secrets.fingerprint(token)[:8]})"
    assert payload["kwargs"]["payment_token"] == redacted
    assert payload["kwargs"]["coupon"] == "FREE"
    assert listed.returncode == 0, explain(listed)
    assert str(letter_id) in listed.stdout
    assert token not in listed.stdout
    assert stored_in(scratch_engine, token) == []
    stored = scalar(scratch_engine, "SELECT payload FROM dead_letters WHERE id = :id", id=letter_id)
    assert Sealer([key]).open(stored["kwargs"]["payment_token"]["$sealed"]) == token


def test_given_a_dead_letter_with_a_token_when_replayed_then_the_task_carries_the_token(
    migrated: str,
    scratch_engine: Engine,
    letter_id: int,
    key: str,
    token: str,
    prefix: str,
    tmp_path: Path,
) -> None:
    rotated = f"{secrets.new_key()},{key}"  # a newer key first: the letter's key still opens
    settings = {"BACKROOM_SECRET_KEYS": rotated, "BACKROOM_BROKER_KEY_PREFIX": prefix}

    replayed = replay(letter_id, migrated, tmp_path, settings)

    assert replayed.returncode == 0, explain(replayed)
    assert token not in replayed.stdout + replayed.stderr
    [(headers, body)] = queued(prefix, "orders")
    args, kwargs, _ = body
    assert headers["task"] == steps.PLACE
    assert (args, kwargs["payment_token"], kwargs["coupon"]) == ([], token, "FREE")
    assert token not in headers["kwargsrepr"]
    assert secrets.fingerprint(token)[:8] in headers["kwargsrepr"]
    status = scalar(scratch_engine, "SELECT status FROM dead_letters WHERE id = :id", id=letter_id)
    assert status == "replayed"


def test_given_the_wrong_key_when_replaying_then_refused_and_the_letter_stays_open(
    migrated: str, scratch_engine: Engine, letter_id: int, prefix: str, tmp_path: Path
) -> None:
    settings = {"BACKROOM_SECRET_KEYS": secrets.new_key(), "BACKROOM_BROKER_KEY_PREFIX": prefix}

    replayed = replay(letter_id, migrated, tmp_path, settings)

    assert replayed.returncode == 1, explain(replayed)
    assert "could not be opened" in replayed.stderr
    assert "Traceback" not in replayed.stderr
    assert queued(prefix, "orders") == []
    status = scalar(scratch_engine, "SELECT status FROM dead_letters WHERE id = :id", id=letter_id)
    assert status == "open"


def test_when_secret_key_then_a_new_fernet_key_is_printed(tmp_path: Path) -> None:
    first = backroom("secret-key", data_dir=tmp_path)
    second = backroom("secret-key", data_dir=tmp_path)

    assert first.returncode == 0, explain(first)
    key = first.stdout.strip()
    assert Sealer([key]).open(Sealer([key]).seal("tok_ok")) == "tok_ok"
    assert key != second.stdout.strip()
    assert not (tmp_path / "secret.key").exists()  # nothing kept


# --- migration 0009 ------------------------------------------------------------------------------

_OLD_LETTER = text(
    "INSERT INTO dead_letters (task, payload, reason, error_type)"
    " VALUES ('orders.place', CAST(:p AS jsonb), 'coupon: unknown', 'ContractViolation')"
)
_OLD_DETAILS = text(
    "UPDATE payments SET details = jsonb_build_object('token', CAST(:t AS text))"
    " WHERE order_id = (SELECT id FROM orders WHERE idempotency_key = :k)"
)
_DETAILS_BY_KEY = (
    "SELECT o.idempotency_key, p.details FROM payments p JOIN orders o ON o.id = p.order_id"
)


@pytest.fixture
def before_0009(scratch_engine: Engine, migrated: str) -> tuple[str, dict[str, str]]:
    """A database taken back to 0008 with a captured and a pending payment and a dead letter
    holding their tokens in clear, as the code before 0009 wrote them."""
    pipeline = fresh_pipeline(scratch_engine)
    stock_products(scratch_engine, {"TEE-1": 10})
    tokens = {"captured": recognisable(), "pending": recognisable()}
    for name, token in tokens.items():
        placed_steps = pipeline.place(place_cmd(name, {"TEE-1": 1}, token=token))[1]
        pipeline.drain(placed_steps, until=steps.CAPTURE if name == "pending" else None)
    letter = {"args": [], "kwargs": {"payment_token": tokens["pending"], "coupon": "X"}}
    with scratch_engine.begin() as conn:
        for name, token in tokens.items():
            conn.execute(_OLD_DETAILS, {"t": token, "k": name})
        conn.execute(_OLD_LETTER, {"p": json.dumps(letter)})
    command.downgrade(migrations.config(migrated), "0008")  # nothing sealed: no key needed
    return migrated, tokens


def test_given_tokens_in_clear_when_migrating_then_each_sealed_or_dropped(
    before_0009: tuple[str, dict[str, str]],
    scratch_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, tokens = before_0009
    key = secrets.new_key()
    monkeypatch.setenv("BACKROOM_SECRET_KEYS", key)

    command.upgrade(migrations.config(url), "head")

    assert [stored_in(scratch_engine, token) for token in tokens.values()] == [[], []]
    kept = dict(rows(scratch_engine, _DETAILS_BY_KEY))
    assert kept["captured"] == {secrets.FINGERPRINT: secrets.fingerprint(tokens["captured"])}
    assert kept["pending"][secrets.FINGERPRINT] == secrets.fingerprint(tokens["pending"])
    assert Sealer([key]).open(kept["pending"][secrets.SEALED_TOKEN]) == tokens["pending"]
    letter = scalar(scratch_engine, "SELECT payload FROM dead_letters")
    opened = secrets.open_tokens(letter, Sealer([key]))
    assert opened["kwargs"] == {"payment_token": tokens["pending"], "coupon": "X"}

    command.downgrade(migrations.config(url), "0008")  # the older code reads tokens in clear

    assert stored_in(scratch_engine, tokens["pending"]) == [
        "public.dead_letters.payload",
        "public.payments.details",
    ]
    assert stored_in(scratch_engine, tokens["captured"]) == []  # gone for good


def test_given_tokens_in_clear_and_no_key_to_be_had_when_migrating_then_nothing_changes(
    before_0009: tuple[str, dict[str, str]],
    scratch_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    url, tokens = before_0009
    (tmp_path / "a-file").write_text("")
    monkeypatch.delenv("BACKROOM_SECRET_KEYS", raising=False)
    monkeypatch.setenv("BACKROOM_DATA_DIR", str(tmp_path / "a-file" / "data"))  # cannot be made

    refusal = r"needs a secret key to seal 1 pending payment token\(s\) and 1 dead letter"
    with pytest.raises(RuntimeError, match=refusal):
        command.upgrade(migrations.config(url), "head")

    assert scalar(scratch_engine, "SELECT version_num FROM alembic_version") == "0008"
    assert stored_in(scratch_engine, tokens["captured"]) == ["public.payments.details"]
    assert stored_in(scratch_engine, tokens["pending"]) == [
        "public.dead_letters.payload",
        "public.payments.details",
    ]


# --- the simulated provider's ledger ------------------------------------------------------------


def test_given_a_provider_ledger_with_tokens_when_the_provider_starts_then_they_become_fingerprints(
    scratch_database: str,
) -> None:
    engine = make_engine(scratch_database, pool_size=0)
    token = recognisable()
    with engine.begin() as conn:  # the ledger as the provider kept it before fingerprints
        conn.execute(text("CREATE SCHEMA payment_sim"))
        conn.execute(
            text(
                "CREATE TABLE payment_sim.payments (key text PRIMARY KEY, reference text NOT NULL"
                " UNIQUE, token text NOT NULL, amount bigint NOT NULL, currency char(3) NOT NULL,"
                " status text NOT NULL DEFAULT 'pending', authorize_attempts int NOT NULL"
                " DEFAULT 0, authorized_at timestamptz, captured_at timestamptz, refunded_amount"
                " bigint NOT NULL DEFAULT 0, refunded_at timestamptz)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO payment_sim.payments (key, reference, token, amount, currency,"
                " status, authorize_attempts) VALUES ('order-1', 'sim_ch_1', :t, 1250, 'EUR',"
                " 'pending', 1)"
            ),
            {"t": token},
        )
    try:
        gateway = SimulatedGateway(engine, slow_seconds=0.0)

        [row] = gateway.ledger()
        assert row["token_fingerprint"] == secrets.fingerprint(token)
        assert stored_in(engine, token) == []
        with pytest.raises(PaymentDeclined, match="reused with a different payment token"):
            gateway.authorize(
                idempotency_key="order-1", amount=1250, currency="EUR", token="tok_ok"
            )
        authorized = gateway.authorize(
            idempotency_key="order-1", amount=1250, currency="EUR", token=token
        )
        assert authorized.reference == "sim_ch_1"
    finally:
        engine.dispose()
