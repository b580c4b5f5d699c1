"""`backroom` as an operator runs it: the real console script in a subprocess, against a
database of the test's own. What it prints, what it changes and how it exits."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

import migrations
from domain.db import make_engine
from domain.services import dead_letters
from tests import factories
from tests.conftest import REPO
from tests.e2e import harness

CONTRACT_FILE = REPO / "docs" / "contract-v1.json"
PUBLIC_TASKS = {"orders.place", "orders.cancel", "orders.status", "inventory.restock"}
PLACE_REQUIRED = {
    "idempotency_key",
    "customer_email",
    "currency",
    "lines",
    "shipping_address",
    "payment_token",
}


def broker_url() -> str:
    configured = os.environ.get("BACKROOM_BROKER_URL", "")
    return configured if configured.startswith("redis") else "redis://127.0.0.1:6379/0"


def backroom(
    *argv: str, database_url: str | None = None, data_dir: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    """Run `backroom ARGV...` with only the settings given here (none inherited)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKROOM_")}
    env.update(
        BACKROOM_DATA_DIR=str(data_dir),
        BACKROOM_BROKER_URL=broker_url(),
        BACKROOM_RESULT_BACKEND=broker_url(),
    )
    if database_url is not None:
        env["BACKROOM_DATABASE_URL"] = database_url
    env.update(extra)
    return harness.backroom(env, *argv, timeout=20)


def explain(result: subprocess.CompletedProcess[str]) -> str:
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"


def head_revision() -> str:
    head = ScriptDirectory.from_config(migrations.config()).get_current_head()
    assert head is not None
    return head


def tables(url: str) -> set[str]:
    engine = make_engine(url, pool_size=0)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def made(stdout: str, what: str) -> int:
    found = re.search(rf"^\s+{what}\s+([0-9,]+)\s*$", stdout, re.MULTILINE)
    assert found, f"no '{what}' count in:\n{stdout}"
    return int(found.group(1).replace(",", ""))


# --- db --------------------------------------------------------------------------------------
def test_given_empty_database_when_db_upgrade_then_schema_built_current_is_head_and_check_ok(
    scratch_database: str, tmp_path: Path
) -> None:
    upgraded = backroom("db", "upgrade", database_url=scratch_database, data_dir=tmp_path)
    assert upgraded.returncode == 0, explain(upgraded)
    assert {"orders", "products", "dead_letters", "outbox"} <= tables(scratch_database)

    current = backroom("db", "current", database_url=scratch_database, data_dir=tmp_path)
    assert current.returncode == 0, explain(current)
    assert head_revision() in current.stdout

    checked = backroom("db", "check", database_url=scratch_database, data_dir=tmp_path)
    assert checked.returncode == 0, explain(checked)


def test_given_migrated_database_when_db_downgrade_base_then_tables_gone(
    migrated: str, tmp_path: Path
) -> None:
    result = backroom("db", "downgrade", "base", database_url=migrated, data_dir=tmp_path)

    assert result.returncode == 0, explain(result)
    assert tables(migrated) == set()
    current = backroom("db", "current", database_url=migrated, data_dir=tmp_path)
    assert head_revision() not in current.stdout


# --- settings --------------------------------------------------------------------------------
def test_given_non_numeric_smtp_port_when_any_command_then_exit_2_one_line_naming_it(
    tmp_path: Path,
) -> None:
    result = backroom("contract", data_dir=tmp_path, BACKROOM_SMTP_PORT="abc")

    assert result.returncode == 2, explain(result)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, explain(result)
    assert "BACKROOM_SMTP_PORT" in lines[0]
    assert "Traceback" not in result.stderr


def test_given_a_bad_setting_when_health_then_exit_1_as_a_health_check_must(
    tmp_path: Path,
) -> None:
    result = backroom("health", "beat", data_dir=tmp_path, BACKROOM_SMTP_PORT="abc")

    assert result.returncode == 1, explain(result)  # Docker reserves 2 for health checks
    assert "BACKROOM_SMTP_PORT" in result.stderr


def test_given_bad_database_url_with_password_then_error_never_shows_the_password(
    tmp_path: Path,
) -> None:
    result = backroom("db", "current", database_url="mysql://u:hunter2@h/db", data_dir=tmp_path)

    assert result.returncode == 2, explain(result)
    assert "BACKROOM_DATABASE_URL" in result.stderr
    assert "hunter2" not in result.stderr + result.stdout


# --- seed ------------------------------------------------------------------------------------
SEED = ("seed", "--products", "30", "--customers", "5", "--seed", "3")


def test_given_migrated_database_when_seed_twice_then_first_makes_rows_second_makes_none(
    migrated: str, tmp_path: Path
) -> None:
    first = backroom(*SEED, database_url=migrated, data_dir=tmp_path)
    assert first.returncode == 0, explain(first)
    assert made(first.stdout, "products") == 30
    assert made(first.stdout, "customers") == 5

    second = backroom(*SEED, database_url=migrated, data_dir=tmp_path)
    assert second.returncode == 0, explain(second)
    assert made(second.stdout, "products") == 0
    assert made(second.stdout, "customers") == 0


def test_given_a_real_product_when_seed_then_refused_until_forced(
    migrated: str, scratch_engine: Engine, tmp_path: Path
) -> None:
    with Session(scratch_engine) as s, s.begin():
        factories.product(s, sku="REAL-1")

    refused = backroom(*SEED, database_url=migrated, data_dir=tmp_path)
    assert refused.returncode != 0, explain(refused)
    assert "--force" in refused.stderr
    assert "Traceback" not in refused.stderr

    forced = backroom(*SEED, "--force", database_url=migrated, data_dir=tmp_path)
    assert forced.returncode == 0, explain(forced)
    assert made(forced.stdout, "products") == 30


# --- contract --------------------------------------------------------------------------------
def test_when_contract_then_four_public_tasks_on_orders_queue_with_strict_place_schema(
    tmp_path: Path,
) -> None:
    result = backroom("contract", data_dir=tmp_path)

    assert result.returncode == 0, explain(result)
    document = json.loads(result.stdout)
    tasks: dict[str, Any] = document["tasks"]
    assert set(tasks) == PUBLIC_TASKS
    assert {name: task["queue"] for name, task in tasks.items()} == dict.fromkeys(
        PUBLIC_TASKS, "orders"
    )
    place = tasks["orders.place"]["kwargs"]
    assert set(place["required"]) == PLACE_REQUIRED
    assert place["additionalProperties"] is False


def test_when_contract_then_output_is_the_committed_contract_file_byte_for_byte(
    tmp_path: Path,
) -> None:
    assert CONTRACT_FILE.exists(), (
        f"{CONTRACT_FILE.relative_to(REPO)} is missing: write it with "
        "`backroom contract > docs/contract-v1.json` and commit it"
    )
    result = backroom("contract", data_dir=tmp_path)

    assert result.returncode == 0, explain(result)
    assert result.stdout.encode() == CONTRACT_FILE.read_bytes(), (
        "docs/contract-v1.json differs from `backroom contract`: the published contract and the "
        "code disagree (regenerate with `backroom contract > docs/contract-v1.json` only if the "
        "change is not breaking)"
    )


# --- order -----------------------------------------------------------------------------------
def test_given_unknown_order_number_when_order_then_clear_message_and_non_zero_exit(
    migrated: str, tmp_path: Path
) -> None:
    result = backroom("order", "ORD-20260101-ZZZZZZ", database_url=migrated, data_dir=tmp_path)

    assert result.returncode != 0, explain(result)
    assert "ORD-20260101-ZZZZZZ" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# --- dead letters ----------------------------------------------------------------------------
@pytest.fixture
def letter_id(scratch_engine: Engine) -> int:
    with Session(scratch_engine) as s, s.begin():
        return dead_letters.record(
            s,
            task="orders.place",
            task_id="3f1c1d2e-0000-4000-8000-000000000001",
            queue="orders",
            payload={"args": [], "kwargs": {"coupon": "FREE"}},
            reason="coupon: unknown field (not in the v1 contract)",
            error_type="ContractViolation",
        )


def test_given_a_dead_letter_when_list_then_shows_its_id_task_and_reason(
    migrated: str, letter_id: int, tmp_path: Path
) -> None:
    result = backroom("dead-letters", "list", database_url=migrated, data_dir=tmp_path)

    assert result.returncode == 0, explain(result)
    row = next(
        (line for line in result.stdout.splitlines() if line.split()[:1] == [str(letter_id)]),
        None,
    )
    assert row is not None, explain(result)
    assert "orders.place" in row
    assert "coupon: unknown field" in row
    assert "open" in row


def test_given_a_dead_letter_when_discarded_then_marked_and_second_discard_refused(
    migrated: str, letter_id: int, scratch_engine: Engine, tmp_path: Path
) -> None:
    first = backroom(
        "dead-letters", "discard", str(letter_id), database_url=migrated, data_dir=tmp_path
    )
    assert first.returncode == 0, explain(first)
    assert str(letter_id) in first.stdout
    with scratch_engine.connect() as conn:
        status = conn.execute(
            text("SELECT status FROM dead_letters WHERE id = :id"), {"id": letter_id}
        ).scalar()
    assert status == "discarded"
    listed = backroom("dead-letters", "list", database_url=migrated, data_dir=tmp_path)
    assert str(letter_id) not in [line.split()[0] for line in listed.stdout.splitlines()[1:]]

    again = backroom(
        "dead-letters", "discard", str(letter_id), database_url=migrated, data_dir=tmp_path
    )
    assert again.returncode != 0, explain(again)
    assert "already discarded" in again.stderr
    assert "Traceback" not in again.stderr


def test_when_dead_letters_show_without_id_then_exit_2_saying_the_id_is_needed(
    migrated: str, tmp_path: Path
) -> None:
    result = backroom("dead-letters", "show", database_url=migrated, data_dir=tmp_path)

    assert result.returncode == 2, explain(result)
    says_id = re.search(r"\bid\b", result.stderr)
    assert says_id, "the usage error belongs on stderr, like argparse's\n" + explain(result)
    assert result.stdout == ""
