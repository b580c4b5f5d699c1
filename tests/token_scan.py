"""Where a string is stored: every column of every table of the database, whatever its schema
(the provider's `payment_sim` too), read as text (a `bytea` column: as bytes)."""

from __future__ import annotations

from sqlalchemy import Engine, text

_COLUMNS = text(
    """
    SELECT c.table_schema, c.table_name, c.column_name, c.data_type
    FROM information_schema.columns c
    JOIN information_schema.tables t
      ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE t.table_type = 'BASE TABLE'
      AND c.table_schema NOT IN ('pg_catalog', 'information_schema')
    ORDER BY 1, 2, 3
    """
)


def stored_in(engine: Engine, needle: str) -> list[str]:
    """`schema.table.column` of each column that holds `needle` in at least one row."""
    hits: list[str] = []
    with engine.connect() as conn:
        quote = conn.dialect.identifier_preparer.quote
        for schema, table, column, data_type in conn.execute(_COLUMNS).all():
            value = quote(column)
            holds = (
                f"position(convert_to(:needle, 'UTF8') in {value}) > 0"
                if data_type == "bytea"
                else f"strpos(CAST({value} AS text), :needle) > 0"
            )
            query = f"SELECT EXISTS (SELECT 1 FROM {quote(schema)}.{quote(table)} WHERE {holds})"
            if conn.execute(text(query), {"needle": needle}).scalar():
                hits.append(f"{schema}.{table}.{column}")
    return hits


def column_count(engine: Engine) -> int:
    """How many columns `stored_in` reads."""
    with engine.connect() as conn:
        return len(conn.execute(_COLUMNS).all())
