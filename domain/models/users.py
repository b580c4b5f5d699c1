"""People: roles, users (customers and vendors by joined inheritance), addresses, sessions."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, DateTime, ForeignKey, Index, String, Table, Text, func
from sqlalchemy.dialects.postgresql import INET
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from domain.models.base import Base, Entity, JSONDoc, JSONList, SoftDeleteMixin, check, str_enum
from domain.validation import EMAIL_PATTERN, normalize_email, sql_literal

if TYPE_CHECKING:
    from domain.models.catalog import Product
    from domain.models.orders import Order
    from domain.models.shopping import CartItem, Review, Wishlist


class UserStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    SUSPENDED = "suspended"
    PENDING_VERIFICATION = "pending_verification"


user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
    Column("assigned_at", DateTime(timezone=True), server_default=func.now(), nullable=False),
    Column("assigned_by_id", ForeignKey("users.id", ondelete="SET NULL")),
)


class Role(SoftDeleteMixin, Entity):
    __tablename__ = "roles"
    __table_args__ = (check("char_length(name) >= 2", "name_length"),)

    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    permissions: Mapped[JSONList] = mapped_column(default=list, server_default="[]")
    is_system_role: Mapped[bool] = mapped_column(default=False, server_default="false")

    users: Mapped[list[User]] = relationship(
        secondary=user_roles,
        primaryjoin="Role.id == user_roles.c.role_id",
        secondaryjoin="User.id == user_roles.c.user_id",
        back_populates="roles",
    )


class User(SoftDeleteMixin, Entity):
    """Anyone with an account. `password_hash` is empty for guest customers."""

    __tablename__ = "users"
    __table_args__: tuple[Any, ...] = (
        check(f"email ~ {sql_literal(EMAIL_PATTERN)}", "email_format"),
        check("char_length(username) >= 3", "username_length"),
        check("char_length(first_name) >= 1", "first_name_length"),
        check("char_length(last_name) >= 1", "last_name_length"),
        check("failed_login_attempts >= 0", "failed_login_attempts_non_negative"),
        Index("ix_users_name", "first_name", "last_name"),
        Index("ix_users_status_type", "status", "user_type"),
    )

    email: Mapped[str] = mapped_column(String(255), unique=True)
    username: Mapped[str] = mapped_column(String(50), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))
    date_of_birth: Mapped[date | None]
    status: Mapped[UserStatus] = mapped_column(
        str_enum(UserStatus, "user_status"),
        default=UserStatus.PENDING_VERIFICATION,
        server_default=UserStatus.PENDING_VERIFICATION.value,
        index=True,
    )
    is_email_verified: Mapped[bool] = mapped_column(default=False, server_default="false")
    is_phone_verified: Mapped[bool] = mapped_column(default=False, server_default="false")
    last_login_at: Mapped[datetime | None]
    failed_login_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None]
    password_changed_at: Mapped[datetime | None]
    preferences: Mapped[JSONDoc] = mapped_column(default=dict, server_default="{}")
    metadata_info: Mapped[JSONDoc] = mapped_column(default=dict, server_default="{}")
    timezone: Mapped[str] = mapped_column(String(50), default="UTC", server_default="UTC")
    language: Mapped[str] = mapped_column(String(10), default="en", server_default="en")
    user_type: Mapped[str] = mapped_column(String(20), index=True)

    roles: Mapped[list[Role]] = relationship(
        secondary=user_roles,
        primaryjoin="User.id == user_roles.c.user_id",
        secondaryjoin="Role.id == user_roles.c.role_id",
        back_populates="users",
    )
    addresses: Mapped[list[Address]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )
    login_sessions: Mapped[list[LoginSession]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    __mapper_args__: dict[str, Any] = {  # noqa: RUF012
        "polymorphic_identity": "user",
        "polymorphic_on": "user_type",
    }

    @validates("email")
    def _normalize_email(self, _key: str, value: str) -> str:
        return normalize_email(value)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Customer(User):
    __tablename__ = "customers"
    __table_args__ = (
        check("total_orders >= 0", "total_orders_non_negative"),
        check("total_spent >= 0", "total_spent_non_negative"),
        check("loyalty_points >= 0", "loyalty_points_non_negative"),
        check("customer_tier IN ('bronze', 'silver', 'gold', 'platinum')", "customer_tier_known"),
    )
    __mapper_args__: dict[str, Any] = {"polymorphic_identity": "customer"}  # noqa: RUF012

    id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    customer_since: Mapped[datetime] = mapped_column(server_default=func.now())
    total_orders: Mapped[int] = mapped_column(default=0, server_default="0")
    total_spent: Mapped[int] = mapped_column(default=0, server_default="0")
    loyalty_points: Mapped[int] = mapped_column(default=0, server_default="0")
    customer_tier: Mapped[str] = mapped_column(
        String(20), default="bronze", server_default="bronze"
    )
    email_marketing_consent: Mapped[bool] = mapped_column(default=False, server_default="false")
    sms_marketing_consent: Mapped[bool] = mapped_column(default=False, server_default="false")

    orders: Mapped[list[Order]] = relationship(back_populates="customer")
    cart_items: Mapped[list[CartItem]] = relationship(back_populates="customer")
    wishlists: Mapped[list[Wishlist]] = relationship(back_populates="customer")
    reviews: Mapped[list[Review]] = relationship(back_populates="customer")


class Vendor(User):
    __tablename__ = "vendors"
    __table_args__ = (
        check("rating >= 0 AND rating <= 500", "rating_range"),
        check("total_reviews >= 0", "total_reviews_non_negative"),
        check("total_sales >= 0", "total_sales_non_negative"),
        Index("ix_vendors_business_name", "business_name"),
        Index("ix_vendors_verified", "is_verified"),
    )
    __mapper_args__: dict[str, Any] = {"polymorphic_identity": "vendor"}  # noqa: RUF012

    id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    business_name: Mapped[str] = mapped_column(String(255))
    business_description: Mapped[str | None] = mapped_column(Text)
    business_registration_number: Mapped[str | None] = mapped_column(String(100))
    tax_id: Mapped[str | None] = mapped_column(String(50))
    is_verified: Mapped[bool] = mapped_column(default=False, server_default="false")
    verification_date: Mapped[datetime | None]
    verification_documents: Mapped[JSONList] = mapped_column(default=list, server_default="[]")
    rating: Mapped[int] = mapped_column(default=0, server_default="0")  # stars x 100
    total_reviews: Mapped[int] = mapped_column(default=0, server_default="0")
    total_sales: Mapped[int] = mapped_column(default=0, server_default="0")  # cents
    store_settings: Mapped[JSONDoc] = mapped_column(default=dict, server_default="{}")

    products: Mapped[list[Product]] = relationship(back_populates="vendor")


class Address(SoftDeleteMixin, Entity):
    __tablename__ = "addresses"
    __table_args__ = (
        check("char_length(postal_code) >= 3", "postal_code_length"),
        Index("ix_addresses_user_defaults", "user_id", "is_default"),
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str | None] = mapped_column(String(50))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    company: Mapped[str | None] = mapped_column(String(255))
    address_line_1: Mapped[str] = mapped_column(String(255))
    address_line_2: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str] = mapped_column(String(100))
    state_province: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str] = mapped_column(String(20))
    country: Mapped[str] = mapped_column(String(100))
    latitude: Mapped[str | None] = mapped_column(String(50))
    longitude: Mapped[str | None] = mapped_column(String(50))
    is_default: Mapped[bool] = mapped_column(default=False, server_default="false")
    is_billing_default: Mapped[bool] = mapped_column(default=False, server_default="false")
    is_shipping_default: Mapped[bool] = mapped_column(default=False, server_default="false")
    delivery_instructions: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(back_populates="addresses")


class LoginSession(Entity):
    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user_active", "user_id", "is_active"),)

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_token: Mapped[str] = mapped_column(String(255), unique=True)
    ip_address: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    device_info: Mapped[JSONDoc] = mapped_column(default=dict, server_default="{}")
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")
    expires_at: Mapped[datetime] = mapped_column(index=True)
    last_activity_at: Mapped[datetime] = mapped_column(server_default=func.now())
    country: Mapped[str | None] = mapped_column(String(100))
    city: Mapped[str | None] = mapped_column(String(100))

    user: Mapped[User] = relationship(back_populates="login_sessions")

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at
