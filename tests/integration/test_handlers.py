"""The application layer as a whole: every step has one handler and one task, and a database
rule a step breaks reaches its caller as a sentence, never as SQL with the row's contents."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from domain import steps
from domain.errors import RuleViolated
from domain.handlers import HANDLERS
from tests.integration.pipeline_helpers import Pipeline, on_hand_reserved, place_cmd, stock_products


def test_every_task_the_worker_runs_is_a_step_with_a_handler() -> None:
    from workers.app import app

    app.loader.import_default_modules()
    ours = {name for name in app.tasks if not name.startswith("celery.")}
    named = {value for key, value in vars(steps).items() if key.isupper()}

    assert ours == set(HANDLERS) == named


def test_given_backordered_order_when_it_ships_short_then_the_rule_is_a_sentence(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 1})
    with engine.begin() as conn:
        conn.execute(text("UPDATE inventory SET allow_backorder = true"))
    _placed, placed_steps = pipeline.place(place_cmd("key-1", {"TEE-1": 3}))
    [fulfil] = pipeline.drain(placed_steps, until=steps.FULFIL)

    with pytest.raises(RuleViolated) as refused:
        pipeline.run(fulfil)

    message = str(refused.value)
    assert message == "stock on hand can never go below zero (ck_inventory_on_hand_non_negative)"
    assert refused.value.rule == "ck_inventory_on_hand_non_negative"
    assert refused.value.__cause__ is None
    assert refused.value.__suppress_context__
    assert on_hand_reserved(engine, "TEE-1") == (1, 3)  # nothing of the step was kept


def test_given_a_restock_past_what_the_column_holds_then_a_sentence_without_sql(
    pipeline: Pipeline, engine: Engine
) -> None:
    stock_products(engine, {"TEE-1": 2_147_000_000})

    with pytest.raises(RuleViolated) as refused:
        pipeline.restock("TEE-1", 1_000_000, "delivery-past-the-limit")

    assert str(refused.value) == "integer out of range (value)"
    assert on_hand_reserved(engine, "TEE-1") == (2_147_000_000, 0)
