"""What customers do before and after buying: carts, wishlists, reviews."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domain.models.base import Entity, SoftDeleteMixin, check, str_enum

if TYPE_CHECKING:
    from domain.models.catalog import Product
    from domain.models.users import Customer


class ReviewStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class CartItem(Entity):
    """A line in a cart: one per (customer, product, variant), a NULL variant counting as one."""

    __tablename__ = "cart_items"
    __table_args__ = (
        check("quantity > 0", "quantity_positive"),
        check("unit_price >= 0", "unit_price_non_negative"),
        UniqueConstraint(
            "customer_id", "product_id", "variant_id", postgresql_nulls_not_distinct=True
        ),
    )

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    variant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("product_variants.id", ondelete="CASCADE")
    )
    quantity: Mapped[int]
    unit_price: Mapped[int]  # cents, when the line was last touched
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())

    customer: Mapped[Customer] = relationship(back_populates="cart_items")
    product: Mapped[Product] = relationship()


class Wishlist(Entity):
    __tablename__ = "wishlists"
    __table_args__ = (UniqueConstraint("customer_id", "name"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(
        String(255), default="My Wishlist", server_default="My Wishlist"
    )
    description: Mapped[str | None] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(default=False, server_default="false")

    customer: Mapped[Customer] = relationship(back_populates="wishlists")
    items: Mapped[list[WishlistItem]] = relationship(
        back_populates="wishlist", cascade="all, delete-orphan"
    )


class WishlistItem(Entity):
    __tablename__ = "wishlist_items"
    __table_args__ = (
        UniqueConstraint(
            "wishlist_id", "product_id", "variant_id", postgresql_nulls_not_distinct=True
        ),
    )

    wishlist_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("wishlists.id", ondelete="CASCADE"))
    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    variant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("product_variants.id", ondelete="CASCADE")
    )
    added_at: Mapped[datetime] = mapped_column(server_default=func.now())
    notes: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[int] = mapped_column(default=0, server_default="0")

    wishlist: Mapped[Wishlist] = relationship(back_populates="items")


class Review(SoftDeleteMixin, Entity):
    """A customer's review of a product: one per (product, customer), rated 1 to 5."""

    __tablename__ = "reviews"
    __table_args__ = (
        check("rating BETWEEN 1 AND 5", "rating_range"),
        check("helpful_count >= 0", "helpful_count_non_negative"),
        UniqueConstraint("product_id", "customer_id"),
        Index("ix_reviews_product_status", "product_id", "status"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    order_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("orders.id", ondelete="SET NULL"))
    rating: Mapped[int]
    title: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str | None] = mapped_column(Text)
    is_verified_purchase: Mapped[bool] = mapped_column(default=False, server_default="false")
    status: Mapped[ReviewStatus] = mapped_column(
        str_enum(ReviewStatus, "review_status"),
        default=ReviewStatus.PENDING,
        server_default=ReviewStatus.PENDING.value,
        index=True,
    )
    helpful_count: Mapped[int] = mapped_column(default=0, server_default="0")

    product: Mapped[Product] = relationship(back_populates="reviews")
    customer: Mapped[Customer] = relationship(back_populates="reviews")
