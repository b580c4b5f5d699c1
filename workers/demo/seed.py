"""Demo data for `backroom seed`: a deterministic catalog with stock, vendors and customers.

The rows come from `workers.demo.rows`, the same for the same seed whatever the counts.
They go in with PostgreSQL `INSERT ... ON CONFLICT DO NOTHING RETURNING`, in batches that
commit one by one, so a rerun (or a run after an interruption) creates only what is missing.
A database holding rows that are not demo data is refused unless forced.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from domain.db import unit_of_work
from domain.errors import InvalidValue, PermanentError
from domain.models import Base
from workers.demo import rows
from workers.demo.rows import DEMO_EMAIL_DOMAIN, DEMO_SKU_PATTERN, Plan, Row

BATCH_SIZE = 500

Progress = Callable[[int, int], None]
T = TypeVar("T")
_TABLES = Base.metadata.tables
_MANY = {"insertmanyvalues_page_size": BATCH_SIZE}  # multi-row INSERTs of BATCH_SIZE rows


@dataclass(frozen=True)
class SeedReport:
    """Rows this run created (all zeros when everything was already there)."""

    vendors: int
    brands: int
    categories: int
    products: int
    variants: int
    customers: int
    units_in_stock: int  # product-level on hand (a product with variants holds their sum)


class NonDemoData(PermanentError):
    """The database holds real rows; seeding would mix demo data into them."""


def seed_catalog(
    factory: sessionmaker[Session],
    *,
    products: int,
    customers: int,
    seed: int,
    force: bool = False,
    progress: Progress | None = None,
) -> SeedReport:
    """Create whatever demo rows are missing for these counts; refuse on real data unless forced."""
    if products < 0 or customers < 0:
        raise InvalidValue(f"counts cannot be negative: {products} products, {customers} customers")
    with unit_of_work(factory) as s:
        plan, tally = _seed_fixtures(s, seed, products, force)
    batches = [partial(_seed_products, plan=plan, indices=c) for c in _slices(range(products))]
    batches += [partial(_seed_customers, seed=seed, indices=c) for c in _slices(range(customers))]
    for batch in batches:  # one unit of work each: committed before its progress is reported
        with unit_of_work(factory) as s:
            tally.update(batch(s))
        if progress is not None:
            progress(tally["items"], products + customers)
    return SeedReport(**{f.name: tally[f.name] for f in fields(SeedReport)})


def _slices(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- refusing real data ----------------------------------------------------------------------
def _refuse_non_demo(s: Session) -> None:
    sku, email = _TABLES["products"].c.sku, _TABLES["users"].c.email
    found = [
        _offenders(s, sku, ~sku.regexp_match(DEMO_SKU_PATTERN)),
        _offenders(s, email, ~email.endswith(f"@{DEMO_EMAIL_DOMAIN}")),
    ]
    if problems := [text for text in found if text]:
        raise NonDemoData(
            f"the database holds rows that are not demo data ({'; '.join(problems)}); demo SKUs "
            f"look like DEMO-000001 and demo users are @{DEMO_EMAIL_DOMAIN}. Seeding would mix "
            "demo rows into real ones: pass --force to seed anyway."
        )


def _offenders(s: Session, column: Any, condition: Any) -> str | None:
    count, example = s.execute(select(func.count(), func.min(column)).where(condition)).one()
    return f"{count} {column.table.name} row(s), e.g. {column.name} {example!r}" if count else None


# --- inserting -------------------------------------------------------------------------------
def _insert_returning(s: Session, table: Table, batch: list[Row], key: str) -> dict[str, uuid.UUID]:
    """Insert what is new (skipping rows whose unique keys exist); map key -> id of the new."""
    stmt = pg_insert(table).on_conflict_do_nothing().returning(table.c[key], table.c.id)
    return {k: id_ for k, id_ in s.execute(stmt, batch, execution_options=_MANY)} if batch else {}


def _insert(s: Session, table: Table, batch: list[Row]) -> None:
    if batch:
        s.execute(pg_insert(table), batch, execution_options=_MANY)


def _ids_by(s: Session, table: Table, key: str, values: list[str]) -> list[uuid.UUID]:
    """Ids of existing rows in the order of `values` (new or already there)."""
    stmt = select(table.c[key], table.c.id).where(table.c[key].in_(values))
    found = {k: id_ for k, id_ in s.execute(stmt)}
    return [found[value] for value in values]


def _insert_people(s: Session, people: list[tuple[Row, Row]], kind: str) -> int:
    """A `users` row plus its `customers`/`vendors` row with the same id (joined inheritance)."""
    ids = _insert_returning(s, _TABLES["users"], [user for user, _ in people], "email")
    more_rows = [more | {"id": ids[u["email"]]} for u, more in people if u["email"] in ids]
    _insert(s, _TABLES[kind], more_rows)
    return len(more_rows)


# --- vendors, brands, categories -------------------------------------------------------------
def _seed_fixtures(s: Session, seed: int, products: int, force: bool) -> tuple[Plan, Counter[str]]:
    if not force:
        _refuse_non_demo(s)
    vendors = [rows.vendor(seed, i) for i in range(1, max(1, products // 25) + 1)]
    brands = rows.brands(seed, max(1, products // 10))
    tally = Counter(vendors=_insert_people(s, vendors, "vendors"))
    tally["brands"] = len(_insert_returning(s, _TABLES["brands"], brands, "name"))
    tally["categories"], leaf_ids = _seed_categories(s, seed)
    vendor_ids = _ids_by(s, _TABLES["users"], "email", [user["email"] for user, _ in vendors])
    brand_ids = _ids_by(s, _TABLES["brands"], "name", [brand["name"] for brand in brands])
    return Plan(seed, vendor_ids, brand_ids, leaf_ids), tally


def _seed_categories(s: Session, seed: int) -> tuple[int, list[uuid.UUID]]:
    """Three levels, parents first; the trigger sets each `path` and `level`."""
    created, ids, slugs = 0, dict[str, uuid.UUID](), list[str]()
    for level in rows.category_levels(seed):
        level_rows = [row | {"parent_id": ids.get(parent)} for parent, row in level]
        created += len(_insert_returning(s, _TABLES["categories"], level_rows, "slug"))
        slugs = [row["slug"] for row in level_rows]
        ids |= dict(zip(slugs, _ids_by(s, _TABLES["categories"], "slug", slugs), strict=True))
    return created, [ids[slug] for slug in slugs]


# --- products and customers -------------------------------------------------------------------
def _seed_products(s: Session, plan: Plan, indices: Sequence[int]) -> Counter[str]:
    drafts = [rows.product(plan, i) for i in indices]
    ids = _insert_returning(s, _TABLES["products"], [d.product for d in drafts], "sku")
    fresh = [d for d in drafts if d.sku in ids]
    _insert(s, _TABLES["inventory"], [d.stock | {"product_id": ids[d.sku]} for d in fresh])
    links = [
        dict(product_id=ids[d.sku], category_id=plan.leaf_ids[n]) for d in fresh for n in d.leaves
    ]
    _insert(s, _TABLES["product_categories"], links)
    variants = _seed_variants(s, [(ids[d.sku], v) for d in fresh for v in d.variants])
    units = sum(d.stock["quantity_on_hand"] for d in fresh)
    return Counter(items=len(indices), products=len(fresh), variants=variants, units_in_stock=units)


def _seed_variants(s: Session, variants: list[tuple[uuid.UUID, tuple[Row, Row]]]) -> int:
    new = [variant | {"product_id": product_id} for product_id, (variant, _) in variants]
    ids = _insert_returning(s, _TABLES["product_variants"], new, "sku")
    stock = [st | {"variant_id": ids[v["sku"]]} for _, (v, st) in variants if v["sku"] in ids]
    _insert(s, _TABLES["inventory_variants"], stock)
    return len(stock)


def _seed_customers(s: Session, seed: int, indices: Sequence[int]) -> Counter[str]:
    people = [rows.customer(seed, i) for i in indices]
    return Counter(items=len(indices), customers=_insert_people(s, people, "customers"))
