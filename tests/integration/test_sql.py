"""`domain.sql.Statement`: planned once per server session, the same rows as plain SQL."""

from __future__ import annotations

from sqlalchemy import Connection, Engine, text

from domain.db import make_engine
from domain.sql import Statement

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
