"""Resolving order lines against the catalog: SKU to product or variant, price, snapshot."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain.contracts import ContractViolation, OrderLine
from domain.models import Product, ProductStatus, ProductVariant


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


def _sellable(product: Product) -> bool:
    return product.status == ProductStatus.ACTIVE and product.deleted_at is None


def _by_sku(session: Session, skus: list[str]) -> dict[str, Product | ProductVariant]:
    found: dict[str, Product | ProductVariant] = {
        p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(skus)))
    }
    variants = session.scalars(select(ProductVariant).where(ProductVariant.sku.in_(skus)))
    found.update({v.sku: v for v in variants})
    return found


def _price(
    item: Product | ProductVariant, line: OrderLine, index: int, currency: str
) -> PricedLine:
    product = item.product if isinstance(item, ProductVariant) else item
    where = f"lines.{index}.sku"
    if not _sellable(product) or (isinstance(item, ProductVariant) and not item.is_active):
        raise ContractViolation(where, f"SKU {line.sku} is not for sale")
    if product.currency != currency:
        raise ContractViolation("currency", f"SKU {line.sku} is sold in {product.currency}")
    variant = item if isinstance(item, ProductVariant) else None
    unit = product.current_price + (variant.price_adjustment if variant else 0)
    return PricedLine(
        product_id=product.id,
        variant_id=variant.id if variant else None,
        sku=item.sku,
        name=f"{product.name} - {variant.name}" if variant else product.name,
        quantity=line.quantity,
        unit_price=unit,
        product_attributes=dict(product.attributes),
        variant_attributes=dict(variant.attributes) if variant else {},
    )


def price_lines(session: Session, lines: Sequence[OrderLine], currency: str) -> list[PricedLine]:
    """Each line priced from the catalog; an unknown SKU names its line (`lines.2.sku`)."""
    found = _by_sku(session, [line.sku for line in lines])
    priced = []
    for index, line in enumerate(lines):
        item = found.get(line.sku)
        if item is None:
            raise ContractViolation(f"lines.{index}.sku", f"unknown SKU {line.sku}")
        priced.append(_price(item, line, index, currency))
    return priced
