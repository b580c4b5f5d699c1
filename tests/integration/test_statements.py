"""Every prepared statement Backroom runs is PREPAREd against the migrated schema: a migration
(or a model) that breaks one fails here, not on the first order after a deploy."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

import domain
from domain.sql import Statement
from workers.adapters import payments as simulated_provider
from workers.adapters.payments import SimulatedGateway


def _modules() -> Iterator[ModuleType]:
    for found in pkgutil.walk_packages(domain.__path__, "domain."):
        yield importlib.import_module(found.name)
    yield simulated_provider


def _statements_in(value: object) -> Iterator[Statement]:
    if isinstance(value, Statement):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _statements_in(item)
    elif isinstance(value, tuple | list):
        for item in value:
            yield from _statements_in(item)


def every_statement() -> list[tuple[str, Statement]]:
    """Each statement a module of the domain (or the simulated provider) holds, by name."""
    found: dict[str, tuple[str, Statement]] = {}
    for module in _modules():
        for name, value in vars(module).items():
            for statement in _statements_in(value):
                found.setdefault(statement.name, (f"{module.__name__}.{name}", statement))
    return sorted(found.values(), key=lambda pair: pair[0])


STATEMENTS = every_statement()


def test_the_statements_are_found() -> None:
    holders = {holder.rsplit(".", 1)[0] for holder, _ in STATEMENTS}

    assert len(STATEMENTS) >= 30
    assert {"domain.uow", "domain.services.state", "domain.services.stock"} <= holders


@pytest.mark.parametrize(("holder", "statement"), STATEMENTS, ids=[h for h, _ in STATEMENTS])
def test_given_the_migrated_schema_then_the_statement_prepares(
    engine: Engine, holder: str, statement: Statement
) -> None:
    SimulatedGateway(engine)  # the provider's own schema, as a worker makes it
    with engine.connect() as conn:
        statement.prepare(conn)
        conn.rollback()


def test_given_a_column_the_schema_lacks_then_preparing_fails(engine: Engine) -> None:
    broken = Statement("UPDATE orders SET no_such_column = :value WHERE id = :id")

    with engine.connect() as conn, pytest.raises(ProgrammingError, match="no_such_column"):
        broken.prepare(conn)
    with engine.connect() as conn:
        query = text("SELECT count(*) FROM pg_prepared_statements WHERE name = :name")
        assert conn.execute(query, {"name": broken.name}).scalar() == 0
