"""Stock: one inventory row per product (and per variant), and the ledger of every movement.

The database holds the rules: stock never below zero, never more reserved than on hand
(unless backorders are allowed), and `quantity_available` / `status` are derived by it.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, Computed, ForeignKey, Index, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Base, Entity, JSONDoc, check, str_enum

if TYPE_CHECKING:
    from domain.models.catalog import Product, ProductVariant


class InventoryStatus(enum.StrEnum):
    IN_STOCK = "in_stock"
    LOW_STOCK = "low_stock"
    OUT_OF_STOCK = "out_of_stock"
    BACKORDER = "backorder"


class MovementType(enum.StrEnum):
    IN = "in"  # received: on hand goes up
    OUT = "out"  # left the shelf: on hand goes down
    RESERVE = "reserve"  # held for an order: reserved goes up
    RELEASE = "release"  # hold given back: reserved goes down


_AVAILABLE = "quantity_on_hand - quantity_reserved"
_STATUS = (
    "CASE WHEN NOT track_inventory THEN 'in_stock'"
    f" WHEN {_AVAILABLE} <= 0 THEN"
    " CASE WHEN allow_backorder THEN 'backorder' ELSE 'out_of_stock' END"
    f" WHEN {_AVAILABLE} <= low_stock_threshold THEN 'low_stock'"
    " ELSE 'in_stock' END"
)


def _stock_checks() -> tuple[CheckConstraint, ...]:
    return (
        check("quantity_on_hand >= 0", "on_hand_non_negative"),
        check("quantity_reserved >= 0", "reserved_non_negative"),
        check("low_stock_threshold >= 0", "threshold_non_negative"),
    )


class Inventory(Entity):
    __tablename__ = "inventory"
    __table_args__ = (
        *_stock_checks(),
        check(
            "allow_backorder OR quantity_reserved <= quantity_on_hand", "reserved_within_on_hand"
        ),
        check("quantity_on_order >= 0", "on_order_non_negative"),
        check("reorder_point >= 0", "reorder_point_non_negative"),
        check("reorder_quantity > 0", "reorder_quantity_positive"),
        Index("ix_inventory_reorder", "quantity_available", "reorder_point"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), unique=True
    )
    quantity_on_hand: Mapped[int] = mapped_column(default=0, server_default="0")
    quantity_reserved: Mapped[int] = mapped_column(default=0, server_default="0")
    quantity_on_order: Mapped[int] = mapped_column(default=0, server_default="0")
    quantity_available: Mapped[int] = mapped_column(Computed(_AVAILABLE, persisted=True))
    low_stock_threshold: Mapped[int] = mapped_column(default=10, server_default="10")
    reorder_point: Mapped[int] = mapped_column(default=20, server_default="20")
    reorder_quantity: Mapped[int] = mapped_column(default=100, server_default="100")
    status: Mapped[str] = mapped_column(String(32), Computed(_STATUS, persisted=True), index=True)
    track_inventory: Mapped[bool] = mapped_column(default=True, server_default="true")
    allow_backorder: Mapped[bool] = mapped_column(default=False, server_default="false")
    warehouse_location: Mapped[str | None] = mapped_column(String(100))
    bin_location: Mapped[str | None] = mapped_column(String(50))

    product: Mapped[Product] = relationship(back_populates="inventory")
    movements: Mapped[list[InventoryMovement]] = relationship(back_populates="inventory")


class InventoryVariant(Entity):
    __tablename__ = "inventory_variants"
    __table_args__ = (
        *_stock_checks(),
        check("quantity_reserved <= quantity_on_hand", "reserved_within_on_hand"),
    )

    variant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("product_variants.id", ondelete="CASCADE"), unique=True
    )
    quantity_on_hand: Mapped[int] = mapped_column(default=0, server_default="0")
    quantity_reserved: Mapped[int] = mapped_column(default=0, server_default="0")
    quantity_available: Mapped[int] = mapped_column(Computed(_AVAILABLE, persisted=True))
    low_stock_threshold: Mapped[int] = mapped_column(default=5, server_default="5")

    variant: Mapped[ProductVariant] = relationship(back_populates="inventory")
    movements: Mapped[list[InventoryMovement]] = relationship(back_populates="inventory_variant")


class InventoryMovement(Base):
    """One line of the stock ledger: which stock row, which way, how many, why, what after.

    Rows are written once and never changed, so they carry no version or `updated_at`.
    """

    __tablename__ = "inventory_movements"
    __table_args__ = (
        check("quantity > 0", "quantity_positive"),
        check("num_nonnulls(inventory_id, inventory_variant_id) = 1", "one_stock_row"),
        check("resulting_quantity >= 0", "resulting_quantity_non_negative"),
        check("resulting_reserved >= 0", "resulting_reserved_non_negative"),
        Index("ix_inventory_movements_reference", "reference_type", "reference_id"),
        # one movement of a kind per stock row per reference: a replayed step moves nothing
        Index(
            "uq_inventory_movements_once",
            "reference_type",
            "reference_id",
            "movement_type",
            "inventory_id",
            "inventory_variant_id",
            unique=True,
            postgresql_nulls_not_distinct=True,
            postgresql_where="reference_id IS NOT NULL",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True, default=uuid.uuid4, server_default=func.gen_random_uuid()
    )
    inventory_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inventory.id", ondelete="CASCADE"), index=True
    )
    inventory_variant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("inventory_variants.id", ondelete="CASCADE"), index=True
    )
    movement_type: Mapped[MovementType] = mapped_column(
        str_enum(MovementType, "movement_type"), index=True
    )
    quantity: Mapped[int]
    reason: Mapped[str] = mapped_column(String(255))
    reference_type: Mapped[str | None] = mapped_column(String(50))
    reference_id: Mapped[uuid.UUID | None]
    resulting_quantity: Mapped[int]  # on hand after the movement
    resulting_reserved: Mapped[int]  # reserved after the movement
    notes: Mapped[str | None] = mapped_column(Text)
    metadata_info: Mapped[JSONDoc] = mapped_column(default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), index=True)

    inventory: Mapped[Inventory | None] = relationship(back_populates="movements")
    inventory_variant: Mapped[InventoryVariant | None] = relationship(back_populates="movements")
