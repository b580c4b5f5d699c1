"""Builders of real rows for tests: each adds to the session and flushes."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from domain.models import Category, Customer, Inventory, Product, ProductStatus, Vendor

_seq = itertools.count(1)

ADDRESS = {  # a shipping address for orders placed in tests
    "name": "Ada Lovelace",
    "line1": "12 St James's Sq",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


def vendor(s: Session, **kw: object) -> Vendor:
    n = next(_seq)
    fields: dict[str, object] = {
        "email": f"vendor{n}@example.com",
        "username": f"vendor{n}",
        "first_name": "Vera",
        "last_name": "Vendor",
        "business_name": f"Vendor {n} Ltd",
    }
    row = Vendor(**(fields | kw))
    s.add(row)
    s.flush()
    return row


def customer(s: Session, **kw: object) -> Customer:
    n = next(_seq)
    fields: dict[str, object] = {
        "email": f"customer{n}@example.com",
        "username": f"customer{n}",
        "first_name": "Cleo",
        "last_name": "Customer",
    }
    row = Customer(**(fields | kw))
    s.add(row)
    s.flush()
    return row


def product(s: Session, *, on_hand: int = 10, **kw: object) -> Product:
    n = next(_seq)
    owner = kw.pop("vendor", None) or vendor(s)
    fields: dict[str, object] = {
        "name": f"Product {n}",
        "slug": f"product-{n}",
        "sku": f"SKU-{n:06d}",
        "base_price": 1999,
        "status": ProductStatus.ACTIVE,
        "vendor": owner,
    }
    row = Product(**(fields | kw))
    row.inventory = Inventory(quantity_on_hand=on_hand)
    s.add(row)
    s.flush()
    return row


def category(s: Session, slug: str, parent: Category | None = None) -> Category:
    row = Category(name=slug.replace("-", " ").title(), slug=slug, parent=parent)
    s.add(row)
    s.flush()
    return row
