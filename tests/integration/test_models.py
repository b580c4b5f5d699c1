"""The domain model on a real PostgreSQL: the rules hold whoever writes the rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from domain.errors import InvalidValue
from domain.integrity import explain
from domain.models import (
    Category,
    Inventory,
    InventoryStatus,
    Order,
    Product,
    ProductVariant,
    User,
)
from tests import factories


def refused(s: Session, action: Callable[[], object] | None = None) -> str:
    """Do `action` (default: flush), expect PostgreSQL to refuse, return what an operator reads."""
    with pytest.raises(IntegrityError) as caught:
        (action or s.flush)()
    s.rollback()
    return str(explain(caught.value))


# --- constraints ---------------------------------------------------------------------------


def test_given_stock_when_on_hand_set_negative_then_refused_with_clear_error(
    session: Session,
) -> None:
    product = factories.product(session, on_hand=3)
    assert product.inventory is not None
    product.inventory.quantity_on_hand = -1
    assert refused(session) == (
        "stock on hand can never go below zero (ck_inventory_on_hand_non_negative)"
    )


def test_given_stock_when_plain_sql_reserves_more_than_on_hand_then_refused(
    session: Session,
) -> None:
    product = factories.product(session, on_hand=2)
    stmt = (
        update(Inventory)
        .where(Inventory.product_id == product.id)
        .values(quantity_reserved=Inventory.quantity_reserved + 3)
    )
    with pytest.raises(IntegrityError) as caught:
        session.execute(stmt)
    assert explain(caught.value).rule == "ck_inventory_reserved_within_on_hand"


def test_given_product_when_price_negative_then_refused_with_clear_error(
    session: Session,
) -> None:
    message = refused(session, lambda: factories.product(session, base_price=-5))
    assert message == (
        "a product's base price must be more than zero cents (ck_products_base_price_positive)"
    )


def test_given_a_sku_when_another_product_takes_it_then_refused(session: Session) -> None:
    factories.product(session, sku="DUP-1")
    message = refused(session, lambda: factories.product(session, sku="dup-1"))  # -> DUP-1
    assert message == "that SKU is already used by another product (uq_products_sku)"


def test_given_a_product_sku_when_a_variant_takes_it_then_refused(session: Session) -> None:
    product = factories.product(session, sku="SHARED-1")
    session.add(ProductVariant(product=product, name="Red", sku="SHARED-1"))
    assert refused(session) == (
        "that SKU is already used by another product or variant (uq_catalog_sku)"
    )


def test_given_bad_email_when_set_on_a_user_then_orm_refuses_naming_it(session: Session) -> None:
    with pytest.raises(InvalidValue, match="invalid email address 'not-an-email'"):
        factories.customer(session, email="not-an-email")


def test_given_bad_email_when_written_by_plain_sql_then_database_refuses(
    session: Session,
) -> None:
    row = {
        "email": "nobody@@example",
        "username": "nobody",
        "first_name": "No",
        "last_name": "Body",
        "user_type": "user",
    }
    with pytest.raises(IntegrityError) as caught:
        session.execute(insert(User.__table__).values(**row))
    assert str(explain(caught.value)) == (
        "that is not a valid email address (ck_users_email_format)"
    )


def test_given_an_email_when_stored_then_it_is_lower_cased(session: Session) -> None:
    customer = factories.customer(session, email="  Mixed.Case@Example.COM ")
    assert customer.email == "mixed.case@example.com"


def test_given_order_whose_total_does_not_add_up_then_refused(session: Session) -> None:
    customer = factories.customer(session)
    session.add(
        Order(
            order_number="ORD-20261127-ABC123",
            customer=customer,
            customer_email=customer.email,
            subtotal=1000,
            tax_amount=80,
            total_amount=999,
            billing_address={},
            shipping_address={},
        )
    )
    assert "ck_orders_total_adds_up" in refused(session)


# --- derived state ---------------------------------------------------------------------------


def test_given_stock_when_reserved_then_available_and_status_follow(session: Session) -> None:
    product = factories.product(session, on_hand=12)
    inventory = product.inventory
    assert inventory is not None
    assert (inventory.quantity_available, inventory.status) == (12, InventoryStatus.IN_STOCK)
    inventory.quantity_reserved = 5
    session.flush()
    session.refresh(inventory)
    assert (inventory.quantity_available, inventory.status) == (7, InventoryStatus.LOW_STOCK)
    inventory.quantity_reserved = 12
    session.flush()
    session.refresh(inventory)
    assert inventory.status == InventoryStatus.OUT_OF_STOCK


def test_given_a_row_when_updated_then_server_moves_updated_at(session: Session) -> None:
    product = factories.product(session)
    session.execute(
        update(Product)
        .where(Product.id == product.id)
        .values(updated_at=datetime(2000, 1, 1, tzinfo=UTC), version=Product.version)
    )
    session.refresh(product)
    assert product.updated_at > datetime(2020, 1, 1, tzinfo=UTC)


# --- search ----------------------------------------------------------------------------------


def search(s: Session, words: str) -> list[str]:
    query = func.websearch_to_tsquery("english", words)
    stmt = (
        select(Product.name)
        .where(Product.search_vector.bool_op("@@")(query))
        .order_by(func.ts_rank(Product.search_vector, query).desc())
    )
    return list(s.scalars(stmt))


def test_given_products_when_searching_a_word_then_matching_product_found(
    session: Session,
) -> None:
    factories.product(session, name="Feather Laptop", description="A light notebook computer")
    factories.product(session, name="Oak Desk", description="Solid wood for your study")
    assert search(session, "laptop") == ["Feather Laptop"]
    assert search(session, "notebooks") == ["Feather Laptop"]  # stemmed: notebook
    assert search(session, "wood") == ["Oak Desk"]
    assert search(session, "spaceship") == []


def test_given_product_when_description_changes_then_search_follows(session: Session) -> None:
    product = factories.product(session, name="Plain Mug", description="ceramic")
    product.description = "enamel camping cup"
    session.flush()
    assert search(session, "camping") == ["Plain Mug"]
    assert search(session, "ceramic") == []


def test_given_category_when_searching_its_description_then_found(session: Session) -> None:
    row = factories.category(session, "garden-tools")
    row.description = "Spades, rakes and shears"
    session.flush()
    query = func.websearch_to_tsquery("english", "rake")
    found = session.scalars(
        select(Category.slug).where(Category.search_vector.bool_op("@@")(query))
    ).all()
    assert found == ["garden-tools"]


# --- category tree ---------------------------------------------------------------------------


def test_given_three_levels_then_path_and_level_are_right(session: Session) -> None:
    root = factories.category(session, "electronics")
    mid = factories.category(session, "computers", root)
    leaf = factories.category(session, "laptops", mid)
    deep = factories.category(session, "ultrabooks", leaf)
    assert (leaf.path, leaf.level) == ("/electronics/computers/laptops", 2)
    assert (deep.path, deep.level) == ("/electronics/computers/laptops/ultrabooks", 3)
    assert root.level == 0


def test_given_subtree_when_moved_then_every_descendant_path_follows(session: Session) -> None:
    home = factories.category(session, "home")
    tech = factories.category(session, "tech")
    kitchen = factories.category(session, "kitchen", home)
    gadgets = factories.category(session, "kitchen-gadgets", kitchen)
    kitchen.parent = tech
    session.flush()
    session.expire_all()
    assert (gadgets.path, gadgets.level) == ("/tech/kitchen/kitchen-gadgets", 2)


def test_given_tree_when_moved_under_own_descendant_then_refused(session: Session) -> None:
    top = factories.category(session, "top")
    child = factories.category(session, "child", top)
    move = update(Category).where(Category.id == top.id).values(parent_id=child.id)
    assert refused(session, lambda: session.execute(move)) == (
        "a category cannot move under its own descendant (ck_categories_no_cycle)"
    )


# --- soft delete -----------------------------------------------------------------------------


def test_given_product_when_soft_deleted_and_restored_then_visible_again(
    session: Session,
) -> None:
    product = factories.product(session, name="Ghost Lamp")
    live = select(Product.name).where(Product.is_deleted.is_(False), Product.name == "Ghost Lamp")
    product.soft_delete(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    session.flush()
    session.refresh(product)
    assert product.is_deleted is True
    assert session.scalars(live).all() == []
    product.restore()
    session.flush()
    session.refresh(product)
    assert (product.is_deleted, product.deleted_at) == (False, None)
    assert session.scalars(live).all() == ["Ghost Lamp"]


def test_given_naive_time_when_soft_deleting_then_refused(session: Session) -> None:
    product = factories.product(session)
    with pytest.raises(ValueError, match="aware"):
        product.soft_delete(datetime(2026, 11, 27, 12, 0))  # noqa: DTZ001


# --- optimistic locking ----------------------------------------------------------------------


@pytest.fixture
def committed(engine: Engine):  # type: ignore[no-untyped-def]
    """For tests that need real commits seen by two sessions; tables emptied afterwards."""
    yield engine
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE users, products, inventory CASCADE"))


def test_given_two_editors_when_both_save_then_second_gets_conflict(committed: Engine) -> None:
    with Session(committed) as s, s.begin():
        product_id = factories.product(s, name="Shared Chair").id
    first, second = Session(committed), Session(committed)
    try:
        mine = first.get_one(Product, product_id)
        theirs = second.get_one(Product, product_id)
        mine.name = "Shared Chair (blue)"
        first.commit()
        theirs.name = "Shared Chair (red)"
        with pytest.raises(StaleDataError):
            second.commit()
    finally:
        first.close()
        second.close()
    with Session(committed) as s:
        saved = s.get_one(Product, product_id)
        assert (saved.name, saved.version) == ("Shared Chair (blue)", 2)
