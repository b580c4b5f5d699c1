"""Resolving order lines against the catalog: SKU to product or variant, price, snapshot."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from domain.contracts import ContractViolation, OrderLine
from domain.models import Product, ProductStatus, ProductVariant
from domain.sql import Statement


@dataclass(frozen=True)
class PricedLine:
    product_id: uuid.UUID
    variant_id: uuid.UUID | None
    sku: str
    name: str
    quantity: int
    unit_price: int
    product_attributes: dict[str, Any] = field(default_factory=dict)
    variant_attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def total_price(self) -> int:
        return self.quantity * self.unit_price

    def as_row(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "variant_id": self.variant_id,
            "product_name": self.name,
            "product_sku": self.sku,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "total_price": self.total_price,
            "product_attributes": self.product_attributes,
            "variant_attributes": self.variant_attributes,
        }


PRODUCTS = Product.__tablename__
_PRODUCT = (
    "p.id, p.sku, p.name, p.status, p.deleted_at, p.currency, p.base_price, p.sale_price,"
    " p.attributes"
)
_PRODUCTS = Statement(f"SELECT {_PRODUCT} FROM {PRODUCTS} p WHERE p.sku = ANY(:skus)")
_VARIANTS = Statement(
    f"SELECT {_PRODUCT}, v.id AS variant_id, v.sku AS variant_sku, v.name AS variant_name,"
    " v.is_active, v.deleted_at AS variant_deleted_at, v.price_adjustment,"
    " v.attributes AS variant_attributes"
    f" FROM {ProductVariant.__tablename__} v JOIN {PRODUCTS} p ON p.id = v.product_id"
    " WHERE v.sku = ANY(:skus)"
)


def _by_sku(session: Session, skus: list[str]) -> dict[str, Any]:
    """Catalog rows by SKU: products first; variants (with their product) for the rest."""
    found: dict[str, Any] = {row.sku: row for row in _PRODUCTS.run(session, {"skus": skus})}
    missing = [sku for sku in skus if sku not in found]
    if missing:
        for row in _VARIANTS.run(session, {"skus": missing}):
            found[row.variant_sku] = row
    return found


def _price(row: Any, line: OrderLine, index: int, currency: str) -> PricedLine:
    variant = "variant_id" in row._fields
    sellable = row.status == ProductStatus.ACTIVE and row.deleted_at is None
    if variant and (not row.is_active or row.variant_deleted_at is not None):
        sellable = False
    if not sellable:
        raise ContractViolation(f"lines.{index}.sku", f"SKU {line.sku} is not for sale")
    if row.currency != currency:
        raise ContractViolation("currency", f"SKU {line.sku} is sold in {row.currency}")
    base = row.sale_price if row.sale_price is not None else row.base_price
    return PricedLine(
        product_id=row.id,
        variant_id=row.variant_id if variant else None,
        sku=line.sku,
        name=f"{row.name} - {row.variant_name}" if variant else row.name,
        quantity=line.quantity,
        unit_price=base + (row.price_adjustment if variant else 0),
        product_attributes=dict(row.attributes),
        variant_attributes=dict(row.variant_attributes) if variant else {},
    )


# Amounts are PostgreSQL integers (minor units): a line's or an order's total above this one
# cannot be stored, and is refused by name before the database would refuse it.
MAX_AMOUNT = 2**31 - 1


def price_lines(session: Session, lines: Sequence[OrderLine], currency: str) -> list[PricedLine]:
    """Each line priced from the catalog; an unknown SKU names its line (`lines.2.sku`), and a
    line, or an order, whose total is above `MAX_AMOUNT` names the quantity (or `lines`)."""
    found = _by_sku(session, [line.sku for line in lines])
    priced = []
    for index, line in enumerate(lines):
        item = found.get(line.sku)
        if item is None:
            raise ContractViolation(f"lines.{index}.sku", f"unknown SKU {line.sku}")
        priced.append(_price(item, line, index, currency))
        if priced[-1].total_price > MAX_AMOUNT:
            message = f"{line.quantity} x SKU {line.sku} is more than one order line can total"
            raise ContractViolation(f"lines.{index}.quantity", f"{message} ({_most(currency)})")
    if sum(line.total_price for line in priced) > MAX_AMOUNT:
        raise ContractViolation("lines", f"more than one order can total ({_most(currency)})")
    return priced


def _most(currency: str) -> str:
    return f"at most {MAX_AMOUNT} in the minor unit of {currency}"
