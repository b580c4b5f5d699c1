"""The catalog: a category tree, tags, brands, products, their variants and images.

Search vectors are generated columns (PostgreSQL keeps them current); a category's
`path` and `level` are kept right at any depth by a trigger (see migrations).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Column, Computed, FetchedValue, ForeignKey, Index, String, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from domain.models.base import Base, Entity, JSONDoc, SoftDeleteMixin, check, str_enum
from domain.validation import SKU_PATTERN, check_slug, normalize_sku, sql_literal

if TYPE_CHECKING:
    from domain.models.inventory import Inventory, InventoryVariant
    from domain.models.shopping import Review
    from domain.models.users import Vendor

SEARCH_CONFIG = "english"


def search_vector(*weighted: tuple[str, str]) -> Computed:
    """A generated `tsvector` over (column, weight) pairs; immutable, so PostgreSQL stores it."""
    parts = [
        f"setweight(to_tsvector('{SEARCH_CONFIG}'::regconfig, coalesce({col}, '')), '{weight}')"
        for col, weight in weighted
    ]
    return Computed(" || ".join(parts), persisted=True)


class ProductStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    INACTIVE = "inactive"
    DISCONTINUED = "discontinued"


product_categories = Table(
    "product_categories",
    Base.metadata,
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column(
        "category_id", ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True, index=True
    ),
)

product_tags = Table(
    "product_tags",
    Base.metadata,
    Column("product_id", ForeignKey("products.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Category(SoftDeleteMixin, Entity):
    """A node of the category tree; `path` is like `/electronics/computers/laptops`."""

    __tablename__ = "categories"
    __table_args__ = (
        check("level >= 0", "level_non_negative"),
        check("display_order >= 0", "display_order_non_negative"),
        check("parent_id IS DISTINCT FROM id", "not_own_parent"),
        Index("ix_categories_parent_order", "parent_id", "display_order"),
        Index("ix_categories_search", "search_vector", postgresql_using="gin"),
        Index("ix_categories_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    name: Mapped[str] = mapped_column(String(255), index=True)
    slug: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT")
    )
    # Both are set by the `categories_tree` trigger from the parent's row, never by hand.
    level: Mapped[int] = mapped_column(
        server_default=FetchedValue(), server_onupdate=FetchedValue(), index=True
    )
    path: Mapped[str] = mapped_column(
        Text, server_default=FetchedValue(), server_onupdate=FetchedValue()
    )
    display_order: Mapped[int] = mapped_column(default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    meta_title: Mapped[str | None] = mapped_column(String(255))
    meta_description: Mapped[str | None] = mapped_column(Text)
    image_url: Mapped[str | None] = mapped_column(String(500))
    banner_url: Mapped[str | None] = mapped_column(String(500))
    settings: Mapped[JSONDoc] = mapped_column(default=dict, server_default="{}")
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR, search_vector(("name", "A"), ("description", "B"))
    )

    parent: Mapped[Category | None] = relationship(
        remote_side="Category.id", back_populates="children"
    )
    children: Mapped[list[Category]] = relationship(back_populates="parent")
    products: Mapped[list[Product]] = relationship(
        secondary=product_categories, back_populates="categories"
    )

    @validates("slug")
    def _check_slug(self, _key: str, value: str) -> str:
        return check_slug(value)


class Tag(SoftDeleteMixin, Entity):
    __tablename__ = "tags"
    __table_args__ = (check("char_length(name) >= 2", "name_length"),)

    name: Mapped[str] = mapped_column(String(100), unique=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    color: Mapped[str | None] = mapped_column(String(7))

    products: Mapped[list[Product]] = relationship(secondary=product_tags, back_populates="tags")


class Brand(SoftDeleteMixin, Entity):
    __tablename__ = "brands"

    name: Mapped[str] = mapped_column(String(255), unique=True)
    slug: Mapped[str] = mapped_column(String(255), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    logo_url: Mapped[str | None] = mapped_column(String(500))
    website_url: Mapped[str | None] = mapped_column(String(500))
    meta_title: Mapped[str | None] = mapped_column(String(255))
    meta_description: Mapped[str | None] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")

    products: Mapped[list[Product]] = relationship(back_populates="brand")


class Product(SoftDeleteMixin, Entity):
    """A sellable product. Prices are integer cents in `currency`."""

    __tablename__ = "products"
    __table_args__ = (
        check("base_price > 0", "base_price_positive"),
        check("sale_price IS NULL OR sale_price > 0", "sale_price_positive"),
        check("cost_price IS NULL OR cost_price >= 0", "cost_price_non_negative"),
        check(f"sku ~ {sql_literal(SKU_PATTERN)}", "sku_format"),
        check("currency ~ '^[A-Z]{3}$'", "currency_format"),
        Index("ix_products_vendor_status", "vendor_id", "status"),
        Index("ix_products_price_range", "base_price", "sale_price"),
        Index("ix_products_search", "search_vector", postgresql_using="gin"),
        Index("ix_products_attributes", "attributes", postgresql_using="gin"),
        Index(
            "ix_products_name_trgm",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
    )

    name: Mapped[str] = mapped_column(String(500))
    slug: Mapped[str] = mapped_column(String(500), unique=True)
    sku: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    short_description: Mapped[str | None] = mapped_column(Text)
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="RESTRICT"), index=True
    )
    brand_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("brands.id", ondelete="SET NULL"), index=True
    )
    base_price: Mapped[int]
    sale_price: Mapped[int | None]
    cost_price: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    weight: Mapped[Decimal | None]
    dimensions: Mapped[JSONDoc | None]
    status: Mapped[ProductStatus] = mapped_column(
        str_enum(ProductStatus, "product_status"),
        default=ProductStatus.DRAFT,
        server_default=ProductStatus.DRAFT.value,
        index=True,
    )
    is_featured: Mapped[bool] = mapped_column(default=False, server_default="false", index=True)
    is_digital: Mapped[bool] = mapped_column(default=False, server_default="false")
    requires_shipping: Mapped[bool] = mapped_column(default=True, server_default="true")
    meta_title: Mapped[str | None] = mapped_column(String(255))
    meta_description: Mapped[str | None] = mapped_column(Text)
    meta_keywords: Mapped[list[str] | None] = mapped_column(ARRAY(String(100)))
    attributes: Mapped[JSONDoc] = mapped_column(default=dict, server_default="{}")
    specifications: Mapped[JSONDoc] = mapped_column(default=dict, server_default="{}")
    search_vector: Mapped[str] = mapped_column(
        TSVECTOR,
        search_vector(("name", "A"), ("short_description", "B"), ("description", "C")),
    )
    published_at: Mapped[datetime | None]

    vendor: Mapped[Vendor] = relationship(back_populates="products")
    brand: Mapped[Brand | None] = relationship(back_populates="products")
    categories: Mapped[list[Category]] = relationship(
        secondary=product_categories, back_populates="products"
    )
    tags: Mapped[list[Tag]] = relationship(secondary=product_tags, back_populates="products")
    variants: Mapped[list[ProductVariant]] = relationship(
        back_populates="product", cascade="all, delete-orphan"
    )
    images: Mapped[list[ProductImage]] = relationship(
        back_populates="product", cascade="all, delete-orphan"
    )
    inventory: Mapped[Inventory | None] = relationship(
        back_populates="product", cascade="all, delete-orphan"
    )
    reviews: Mapped[list[Review]] = relationship(back_populates="product")

    @validates("sku")
    def _normalize_sku(self, _key: str, value: str) -> str:
        return normalize_sku(value)

    @property
    def current_price(self) -> int:
        return self.sale_price if self.sale_price is not None else self.base_price


class ProductVariant(SoftDeleteMixin, Entity):
    """An option of a product (`Red - Large`); its SKU is unique across products too."""

    __tablename__ = "product_variants"
    __table_args__ = (
        check(f"sku ~ {sql_literal(SKU_PATTERN)}", "sku_format"),
        Index("ix_product_variants_attributes", "attributes", postgresql_using="gin"),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    sku: Mapped[str] = mapped_column(String(100), unique=True)
    price_adjustment: Mapped[int] = mapped_column(default=0, server_default="0")
    cost_price: Mapped[int | None]
    attributes: Mapped[JSONDoc] = mapped_column(default=dict, server_default="{}")
    weight: Mapped[Decimal | None]
    dimensions: Mapped[JSONDoc | None]
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")

    product: Mapped[Product] = relationship(back_populates="variants")
    inventory: Mapped[InventoryVariant | None] = relationship(
        back_populates="variant", cascade="all, delete-orphan"
    )

    @validates("sku")
    def _normalize_sku(self, _key: str, value: str) -> str:
        return normalize_sku(value)


class ProductImage(Entity):
    __tablename__ = "product_images"
    __table_args__ = (
        check("file_size IS NULL OR file_size >= 0", "file_size_non_negative"),
        Index("ix_product_images_product_order", "product_id", "display_order"),
        Index(
            "uq_product_images_one_primary",
            "product_id",
            unique=True,
            postgresql_where="is_primary",
        ),
    )

    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(500))
    alt_text: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    filename: Mapped[str | None] = mapped_column(String(255))
    file_size: Mapped[int | None]
    width: Mapped[int | None]
    height: Mapped[int | None]
    mime_type: Mapped[str | None] = mapped_column(String(50))
    display_order: Mapped[int] = mapped_column(default=0, server_default="0")
    is_primary: Mapped[bool] = mapped_column(default=False, server_default="false")
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")

    product: Mapped[Product] = relationship(back_populates="images")
