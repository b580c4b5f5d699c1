"""`seed_catalog` on a real PostgreSQL: deterministic, idempotent, and careful with real data.

The service commits batch by batch, so these tests cannot use the rolled-back `session`
fixture: they get a sessionmaker on the run's engine, and the tables are truncated before
and after each test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from email_validator import validate_email
from sqlalchemy import Engine, Select, func, select, text
from sqlalchemy.orm import Session, aliased, sessionmaker

from domain.db import session_factory, unit_of_work
from domain.models import (
    Category,
    Customer,
    Inventory,
    InventoryVariant,
    Product,
    ProductStatus,
    ProductVariant,
    User,
    product_categories,
)
from tests import factories
from workers.demo.rows import DEMO_EMAIL_DOMAIN, is_demo_sku
from workers.demo.seed import NonDemoData, SeedReport, seed_catalog

TRUNCATE = "TRUNCATE users, roles, products, categories, brands, tags, inventory CASCADE"
Snapshot = list[tuple[str, str, int, int]]


@pytest.fixture
def factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A sessionmaker whose commits are real; the tables are emptied before and after."""
    with engine.begin() as conn:
        conn.execute(text(TRUNCATE))
    yield session_factory(engine)
    with engine.begin() as conn:
        conn.execute(text(TRUNCATE))


def run(
    factory: sessionmaker[Session],
    *,
    products: int = 40,
    customers: int = 10,
    seed: int = 7,
    force: bool = False,
) -> SeedReport:
    return seed_catalog(factory, products=products, customers=customers, seed=seed, force=force)


def catalog(factory: sessionmaker[Session]) -> Snapshot:
    """(sku, name, base price, on hand) of every product, sorted."""
    stmt = select(Product.sku, Product.name, Product.base_price, Inventory.quantity_on_hand)
    with factory() as s:
        return sorted(s.execute(stmt.join(Inventory)))


def people(factory: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with factory() as s:
        stmt = select(Customer.email, Customer.first_name, Customer.last_name)
        return sorted(s.execute(stmt))


def truncate(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        s.execute(text(TRUNCATE))


# --- what gets created ----------------------------------------------------------------------


def test_given_an_empty_database_when_seeding_then_the_counts_match_the_request(
    factory: sessionmaker[Session],
) -> None:
    report = run(factory, products=60, customers=15)

    assert (report.products, report.customers) == (60, 15)
    assert (report.vendors, report.brands, report.categories) == (2, 6, 4 + 12 + 36)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Product)) == 60
        assert s.scalar(select(func.count()).select_from(Customer)) == 15
        assert s.scalar(select(func.count()).select_from(Inventory)) == 60
        assert s.scalar(select(func.count()).select_from(ProductVariant)) == report.variants
        assert s.scalar(select(func.count()).select_from(InventoryVariant)) == report.variants
        assert s.scalar(select(func.sum(Inventory.quantity_on_hand))) == report.units_in_stock


def test_given_a_seeded_catalog_then_every_product_is_active_demo_data_with_sane_prices(
    factory: sessionmaker[Session],
) -> None:
    run(factory, products=200, customers=20)

    with factory() as s:
        products = s.scalars(select(Product)).all()
        emails = s.scalars(select(User.email)).all()
    assert all(is_demo_sku(p.sku) and p.status is ProductStatus.ACTIVE for p in products)
    assert all(p.base_price > 0 for p in products)
    on_sale = [p for p in products if p.sale_price is not None]
    assert on_sale
    assert all(0 < (p.sale_price or 0) < p.base_price for p in on_sale)
    assert all(email.endswith(f"@{DEMO_EMAIL_DOMAIN}") for email in emails)


def test_given_a_seeded_catalog_then_the_tree_is_three_levels_with_paths_from_the_parents(
    factory: sessionmaker[Session],
) -> None:
    run(factory)

    with factory() as s:
        roots = s.scalars(select(Category.path).where(Category.parent_id.is_(None))).all()
        edges = s.execute(tree_edges()).all()
        product_leaves = s.execute(leaves_per_product()).all()
    assert len(roots) == 4
    assert all(path.count("/") == 1 for path in roots)
    assert {level for _, _, level, _, _ in edges} == {1, 2}
    assert all(
        path == f"{up_path}/{slug}" and level == up_level + 1
        for path, slug, level, up_path, up_level in edges
    )
    assert len(product_leaves) == 40
    assert all(n in (1, 2) and level == 2 for n, level in product_leaves)


def tree_edges() -> Select[str, str, int, str, int]:
    """(path, slug, level) of every child with (path, level) of its parent."""
    up = aliased(Category)
    child = select(Category.path, Category.slug, Category.level, up.path, up.level)
    return child.join(up, Category.parent_id == up.id)


def leaves_per_product() -> Select[int, int]:
    """How many categories each product is in, and the shallowest level among them."""
    stmt = select(func.count(), func.min(Category.level)).select_from(product_categories)
    return stmt.join(Category).group_by(product_categories.c.product_id)


def test_given_seeded_demo_users_then_their_emails_pass_email_validation(
    factory: sessionmaker[Session],
) -> None:
    run(factory, customers=5)

    with factory() as s:
        emails = s.scalars(select(User.email)).all()
    assert all(validate_email(e, check_deliverability=False).normalized == e for e in emails)


def test_given_skus_then_only_demo_skus_are_demo() -> None:
    assert is_demo_sku("DEMO-000001")
    assert is_demo_sku("DEMO-000001-RD-XL")
    assert not is_demo_sku("DEMO-1")
    assert not is_demo_sku("SKU-000001")


# --- deterministic and idempotent ----------------------------------------------------------


def test_given_the_same_seed_when_seeding_twice_from_scratch_then_the_catalogs_are_identical(
    factory: sessionmaker[Session],
) -> None:
    run(factory, seed=42)
    first, first_people = catalog(factory), people(factory)
    truncate(factory)

    run(factory, seed=42)

    assert len(first) == 40
    assert catalog(factory) == first
    assert people(factory) == first_people


def test_given_another_seed_when_seeding_then_the_catalog_differs(
    factory: sessionmaker[Session],
) -> None:
    run(factory, seed=1)
    first = catalog(factory)
    truncate(factory)

    run(factory, seed=2)

    assert catalog(factory) != first


def test_given_a_seeded_database_when_seeding_again_then_nothing_is_created(
    factory: sessionmaker[Session],
) -> None:
    run(factory)
    before = catalog(factory)

    report = run(factory)

    assert report == SeedReport(0, 0, 0, 0, 0, 0, 0)
    assert catalog(factory) == before


def test_given_a_seeded_database_when_asking_for_more_then_only_the_missing_are_added(
    factory: sessionmaker[Session],
) -> None:
    run(factory, products=40, customers=10)
    before = catalog(factory)

    report = run(factory, products=55, customers=12)

    assert (report.products, report.customers, report.categories) == (15, 2, 0)
    after = catalog(factory)
    assert len(after) == 55
    assert set(before) <= set(after)


# --- real data -----------------------------------------------------------------------------


def test_given_a_non_demo_product_when_seeding_then_refused_and_nothing_is_added(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        factories.product(s, sku="REAL-1")

    with pytest.raises(NonDemoData, match="--force") as refused:
        run(factory)

    assert "'REAL-1'" in str(refused.value)
    assert [sku for sku, *_ in catalog(factory)] == ["REAL-1"]


def test_given_a_non_demo_customer_when_seeding_then_refused(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        factories.customer(s, email="cleo@shop.example.com")

    with pytest.raises(NonDemoData, match=r"cleo@shop\.example\.com"):
        run(factory)


def test_given_a_non_demo_product_when_seeding_with_force_then_seeded_beside_it(
    factory: sessionmaker[Session],
) -> None:
    with unit_of_work(factory) as s:
        factories.product(s, sku="REAL-1")

    report = run(factory, force=True)

    assert report.products == 40
    assert len(catalog(factory)) == 41


# --- search and progress -------------------------------------------------------------------


def test_given_a_seeded_product_when_searching_a_word_of_its_name_then_it_is_found(
    factory: sessionmaker[Session],
) -> None:
    run(factory)
    with factory() as s:
        sku, name = s.execute(
            select(Product.sku, Product.name).order_by(Product.sku).limit(1)
        ).one()
        word = name.split()[-1].lower()
        query = func.websearch_to_tsquery("english", word)
        found = s.scalars(select(Product.sku).where(Product.search_vector.bool_op("@@")(query)))

        assert sku in found.all()


def test_given_a_progress_callback_when_seeding_then_it_counts_up_to_the_total(
    factory: sessionmaker[Session],
) -> None:
    calls: list[tuple[int, int]] = []

    seed_catalog(
        factory,
        products=600,
        customers=10,
        seed=3,
        progress=lambda done, total: calls.append((done, total)),
    )

    assert calls == [(500, 610), (600, 610), (610, 610)]


def test_given_a_run_interrupted_after_a_batch_when_run_again_then_it_finishes_the_rest(
    factory: sessionmaker[Session],
) -> None:
    def stop(done: int, total: int) -> None:
        raise KeyboardInterrupt(f"stopped at {done}/{total}")

    with pytest.raises(KeyboardInterrupt):
        seed_catalog(factory, products=600, customers=10, seed=3, progress=stop)
    assert len(catalog(factory)) == 500

    report = seed_catalog(factory, products=600, customers=10, seed=3)

    assert (report.products, report.customers) == (100, 10)
    assert len(catalog(factory)) == 600
