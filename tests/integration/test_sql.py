"""`domain.sql.Statement`: planned once per server session, the same rows as plain SQL."""

from __future__ import annotations

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.exc import DBAPIError, MultipleResultsFound, NoResultFound, OperationalError
from sqlalchemy.orm import Session

from domain.db import make_engine
from domain.sql import Statement, _instrumented

PID = Statement("SELECT pg_backend_pid()")
SUM = Statement("SELECT CAST(:a AS int) + CAST(:a AS int) AS twice, CAST(:b AS text) AS word")


def _prepared(conn: Connection) -> list[str]:
    query = text("SELECT name FROM pg_prepared_statements ORDER BY name")
    return list(conn.execute(query).scalars())


def test_given_a_statement_when_run_twice_then_prepared_once_with_the_plain_rows(
    engine: Engine,
) -> None:
    with engine.connect() as conn:
        first = SUM.run(conn, {"a": 21, "b": "x"}).one()
        second = SUM.run(conn, {"a": 5, "b": "it's"}).one()  # a quote survives
        plain = conn.execute(SUM.plain, {"a": 5, "b": "it's"}).one()

        assert (first.twice, first.word) == (42, "x")
        assert tuple(second) == tuple(plain) == (10, "it's")
        assert _prepared(conn).count(SUM.name) == 1


def test_given_a_percent_sign_in_the_sql_when_run_then_it_is_sql_not_a_placeholder(
    engine: Engine,
) -> None:
    like = Statement("SELECT CAST(:word AS text) LIKE 'x%' AS matched")
    with engine.connect() as conn:
        assert like.run(conn, {"word": "xyz"}).scalar() is True
        assert like.run(conn, {"word": "abc"}).scalar() is False


def test_given_a_rolled_back_transaction_when_run_again_then_still_prepared(
    engine: Engine,
) -> None:
    with engine.connect() as conn:
        with conn.begin() as tx:
            SUM.run(conn, {"a": 1, "b": "a"})
            tx.rollback()  # PostgreSQL keeps prepared statements across a rollback

        assert SUM.run(conn, {"a": 2, "b": "b"}).one().twice == 4


def test_given_a_new_server_session_when_run_then_prepared_there_again(engine: Engine) -> None:
    with engine.connect() as conn:
        SUM.run(conn, {"a": 1, "b": "a"})
        conn.invalidate()  # the pool reconnects: a new session knows no prepared statements
        conn.rollback()

        assert SUM.run(conn, {"a": 3, "b": "c"}).one().twice == 6
        assert SUM.name in _prepared(conn)


def test_given_prepare_off_when_run_then_nothing_prepared_and_the_same_rows(
    database_url: str,
) -> None:
    plain_engine = make_engine(database_url, pool_size=1, prepare=False)
    try:
        with plain_engine.connect() as conn:
            row = SUM.run(conn, {"a": 4, "b": "d"}).one()

            assert tuple(row) == (8, "d")
            assert _prepared(conn) == []
    finally:
        plain_engine.dispose()


def test_given_a_failing_statement_when_run_then_a_sqlalchemy_error_and_the_session_recovers(
    engine: Engine,
) -> None:
    divide = Statement("SELECT 1 / CAST(:n AS int) AS q")
    with engine.connect() as conn:
        with pytest.raises(DBAPIError) as raised:
            divide.run(conn, {"n": 0})
        conn.rollback()

        assert "division by zero" in str(raised.value)
        assert raised.value.connection_invalidated is False
        assert divide.run(conn, {"n": 2}).scalar() == 0


def test_given_the_server_session_killed_when_run_then_operational_error_and_a_new_one_next(
    engine: Engine,
) -> None:
    """What a task's retry relies on: a lost server is `OperationalError`, the pool drops it."""
    with engine.connect() as conn:
        pid = PID.run(conn).scalar()
        conn.commit()
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        with pytest.raises(OperationalError) as raised:
            PID.run(conn)
        assert raised.value.connection_invalidated is True
        conn.rollback()

        assert PID.run(conn).scalar() != pid


def test_given_a_connection_outside_a_transaction_when_a_write_runs_then_commit_keeps_it(
    engine: Engine,
) -> None:
    insert = Statement("INSERT INTO outbox (task, kwargs) VALUES (:task, '{}') RETURNING id")
    with engine.connect() as conn:
        new_id = insert.run(conn, {"task": "test.sql"}).scalar()
        conn.commit()
    with engine.connect() as conn:
        kept = conn.execute(text("SELECT task FROM outbox WHERE id = :id"), {"id": new_id})
        assert kept.scalar() == "test.sql"
        conn.execute(text("DELETE FROM outbox WHERE id = :id"), {"id": new_id})
        conn.commit()


def test_given_rows_when_asked_for_one_then_none_or_many_are_errors(engine: Engine) -> None:
    series = Statement("SELECT n FROM generate_series(1, CAST(:n AS int)) AS n")
    with engine.connect() as conn:
        with pytest.raises(NoResultFound):
            series.run(conn, {"n": 0}).one()
        with pytest.raises(MultipleResultsFound):
            series.run(conn, {"n": 2}).one_or_none()
        assert series.run(conn, {"n": 0}).one_or_none() is None
        assert [row.n for row in series.run(conn, {"n": 3})] == [1, 2, 3]


def test_given_an_event_listener_when_run_then_it_sees_every_statement(
    database_url: str,
) -> None:
    seen: list[str] = []
    listened = make_engine(database_url, pool_size=1)
    event.listen(listened, "before_cursor_execute", lambda *a: seen.append(a[2]))
    try:
        with listened.connect() as conn:
            SUM.run(conn, {"a": 1, "b": "a"})
        with listened.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            SUM.run(conn, {"a": 2, "b": "b"})

        assert [s for s in seen if SUM.name in s] == [
            f"PREPARE {SUM.name} AS SELECT CAST($1 AS int) + CAST($1 AS int) AS twice,"
            " CAST($2 AS text) AS word",
            f"EXECUTE {SUM.name}(%(a)s, %(b)s)",
            f"EXECUTE {SUM.name}(%(a)s, %(b)s)",
        ]
    finally:
        listened.dispose()


def test_given_an_isolation_level_and_no_listener_when_run_then_on_the_cursor(
    engine: Engine,
) -> None:
    """Such an engine has events of its own (to set the level); they do not need statements."""
    with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        assert SUM.run(conn, {"a": 1, "b": "a"}).one().twice == 2
        assert not _instrumented(conn)


def test_given_one_session_over_several_transactions_when_run_then_each_uses_its_own(
    engine: Engine,
) -> None:
    """A session remembers its transaction's connection; a new transaction is a new one."""
    with Session(engine) as session:
        first = PID.run(session).scalar()
        session.connection().invalidate()  # the server session is gone: a new one next
        session.rollback()
        second = PID.run(session).scalar()
        again = PID.run(session).scalar()

    assert second != first
    assert again == second


class _Interrupting:
    """A parameter whose conversion raises what Celery raises inside a task at its soft
    time limit, at the point a real one would arrive: in the middle of the statement."""

    def __conform__(self, _protocol: object) -> None:
        raise SoftTimeLimitExceeded()


def test_given_a_soft_time_limit_mid_statement_then_it_arrives_as_itself(engine: Engine) -> None:
    """The task's retry policy names `SoftTimeLimitExceeded`; wrapped in a SQLAlchemy error
    it would not retry but become a dead letter."""
    echo = Statement("SELECT CAST(:x AS text) AS x")
    with engine.connect() as conn:
        with pytest.raises(SoftTimeLimitExceeded):
            echo.run(conn, {"x": _Interrupting()})
        conn.rollback()

        assert echo.run(conn, {"x": "still usable"}).scalar() == "still usable"


def test_given_the_server_session_killed_then_the_pools_older_connections_are_not_used_again(
    database_url: str,
) -> None:
    """Without pre-ping (as in workers) a pooled connection to a server that went away would
    fail the next task that gets it: a lost server retires every connection made before."""
    workers_engine = make_engine(database_url, pool_size=4, pre_ping=False)
    try:
        idle = [workers_engine.connect() for _ in range(3)]
        older = {PID.run(c).scalar() for c in idle}
        for c in idle:
            c.close()
        with workers_engine.connect() as conn:
            pid = PID.run(conn).scalar()
            conn.commit()
            _terminate(database_url, pid)
            with pytest.raises(OperationalError):
                PID.run(conn)
            conn.rollback()
        handed_out = [workers_engine.connect() for _ in range(3)]

        assert not {PID.run(c).scalar() for c in handed_out} & (older | {pid})
        for c in handed_out:
            c.close()
    finally:
        workers_engine.dispose()


def _terminate(database_url: str, pid: int) -> None:
    admin = make_engine(database_url, pool_size=0)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        admin.dispose()


class _Exiting:
    """A parameter whose conversion raises `SystemExit`, in the middle of the statement."""

    def __conform__(self, _protocol: object) -> None:
        raise SystemExit(3)


def test_given_an_exit_mid_statement_then_it_arrives_as_itself_and_the_connection_is_dropped(
    engine: Engine,
) -> None:
    """An exit may leave a statement half sent: that server session must not be used again."""
    echo = Statement("SELECT CAST(:x AS text) AS x")
    with engine.connect() as conn:
        pid = PID.run(conn).scalar()
        with pytest.raises(SystemExit):
            echo.run(conn, {"x": _Exiting()})

        assert conn.invalidated
        conn.rollback()
        assert PID.run(conn).scalar() != pid
