"""Every mapped table, importable from one place (Alembic reads `Base.metadata` from here)."""

from __future__ import annotations

from domain.models.analytics import SHOP_KEY, DailySales, SalesDimension
from domain.models.base import Base
from domain.models.catalog import (
    Brand,
    Category,
    Product,
    ProductImage,
    ProductStatus,
    ProductVariant,
    Tag,
    product_categories,
    product_tags,
)
from domain.models.fulfilment import Payment, Shipment
from domain.models.inventory import (
    Inventory,
    InventoryMovement,
    InventoryStatus,
    InventoryVariant,
    MovementType,
)
from domain.models.orders import (
    Order,
    OrderItem,
    OrderStatus,
    OrderStatusHistory,
    PaymentStatus,
    ShippingStatus,
)
from domain.models.pipeline import (
    DeadLetter,
    DeadLetterStatus,
    Notification,
    NotificationStatus,
    OutboxMessage,
)
from domain.models.schedule import (
    PausedEntry,
    ReorderRequest,
    ReorderStatus,
    ReportDelivery,
    RunStatus,
    ScheduledRun,
)
from domain.models.shopping import CartItem, Review, ReviewStatus, Wishlist, WishlistItem
from domain.models.users import (
    Address,
    Customer,
    LoginSession,
    Role,
    User,
    UserStatus,
    Vendor,
    user_roles,
)

__all__ = [
    "SHOP_KEY",
    "Address",
    "Base",
    "Brand",
    "CartItem",
    "Category",
    "Customer",
    "DailySales",
    "DeadLetter",
    "DeadLetterStatus",
    "Inventory",
    "InventoryMovement",
    "InventoryStatus",
    "InventoryVariant",
    "LoginSession",
    "MovementType",
    "Notification",
    "NotificationStatus",
    "Order",
    "OrderItem",
    "OrderStatus",
    "OrderStatusHistory",
    "OutboxMessage",
    "PausedEntry",
    "Payment",
    "PaymentStatus",
    "Product",
    "ProductImage",
    "ProductStatus",
    "ProductVariant",
    "ReorderRequest",
    "ReorderStatus",
    "ReportDelivery",
    "Review",
    "ReviewStatus",
    "Role",
    "RunStatus",
    "SalesDimension",
    "ScheduledRun",
    "Shipment",
    "ShippingStatus",
    "Tag",
    "User",
    "UserStatus",
    "Vendor",
    "Wishlist",
    "WishlistItem",
    "product_categories",
    "product_tags",
    "user_roles",
]
