"""Daily sales: what the orders placed on one shop-local day sold, per product, per category,
per vendor and for the whole shop, in each currency. `domain.services.analytics` writes the
rows from the orders; nothing else does, and a rebuild writes them again exactly.

One row per (day, dimension, key, currency):

- `day`: the order's PLACEMENT day, `orders.created_at` in the shop's zone. Every measure of
  an order stays on that day whatever happens to it later: a refund a week on changes its
  placement day's row.
- `dimension`, `key`: `product` (the product's id; a variant's lines count for its product),
  `vendor` (the product's vendor now), `category` (a category's id: a line counts for each
  category of its product and for every ancestor of those, once per category even when the
  product sits in two categories of one subtree; membership as the catalog has it when the
  row is written), `shop` (`SHOP_KEY`, the nil UUID: one row for the whole shop, every line
  of the day). The shop row is there for the counts: an order or a customer counts once in
  the row of each product, vendor and category it bought, so those rows' `orders` and
  `customers` do not add up to the day's.
- `currency`: the order's currency. Money is integer minor units and never mixed: an order
  in EUR only ever counts in the EUR row.

Every order placed on the day counts, whatever its status since (sales as booked); what was
undone since is in `cancellations`, `refunds` and `refunded`. Per order line:

- `units` = `quantity`; `gross` = `total_price` (quantity x unit price).
- `discounts`, `tax`, `refunded`, `captured`: the order's `discount_amount` and `tax_amount`,
  its payment's `refunded_amount`, and what the payment provider charged for the order (the
  payment's `amount` if the payment was captured, `captured_at` set, whatever happened to it
  since: a refunded payment was charged too; else 0), each allocated to the order's lines in
  proportion to `total_price`, by running-total rounding: with the lines in order of their
  id, `W(k)` the sum of the `total_price` of lines 1..k and `T = W(n)`, line k gets
  `floor(A * W(k) / T) - floor(A * W(k-1) / T)` of an amount A. The shares add up to A
  exactly and each is within one minor unit of its exact share. An order whose lines total 0
  weighs each line 1 instead. Shipping is not allocated on its own (it is no product's), but
  `captured` is all the payment charged, shipping included: the shop row's `captured` is
  exactly what the day's orders were charged.
- `net` = `gross - discounts` (before tax, without shipping).

Summed over the day's lines for the key: `units`, `gross`, `discounts`, `tax`, `net`,
`refunded`, `captured`. Counted once each: `orders` (distinct orders), `customers` (distinct
customers), `cancellations` (of those orders, the ones now `cancelled` or `refunded`),
`refunds` (the ones whose payment has money refunded: `refunded_amount > 0`). `updated_at`:
when the row was last written (the day's rows are written together).
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, String, func
from sqlalchemy.orm import Mapped, mapped_column

from domain.models.base import Base, check, str_enum

_COUNTS = ("units", "orders", "customers", "cancellations", "refunds")
_MONEY = ("gross", "discounts", "tax", "refunded", "captured")


class SalesDimension(enum.StrEnum):
    PRODUCT = "product"
    CATEGORY = "category"
    VENDOR = "vendor"
    SHOP = "shop"


SHOP_KEY = uuid.UUID(int=0)  # the key of the `shop` dimension's rows


class DailySales(Base):
    """One day's sales of one product, category or vendor, or of the whole shop, in one
    currency (see the module)."""

    __tablename__ = "daily_sales"
    __table_args__ = (
        *(check(f"{col} >= 0", f"{col}_non_negative") for col in (*_COUNTS, *_MONEY)),
        check("net = gross - discounts", "net_is_gross_less_discounts"),
        check("currency ~ '^[A-Z]{3}$'", "currency_format"),
    )

    day: Mapped[date] = mapped_column(primary_key=True)
    dimension: Mapped[SalesDimension] = mapped_column(
        str_enum(SalesDimension, "sales_dimension"), primary_key=True
    )
    key: Mapped[uuid.UUID] = mapped_column(primary_key=True)  # no FK: history outlives rows
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    units: Mapped[int] = mapped_column(BigInteger)
    gross: Mapped[int] = mapped_column(BigInteger)
    discounts: Mapped[int] = mapped_column(BigInteger)
    tax: Mapped[int] = mapped_column(BigInteger)
    net: Mapped[int] = mapped_column(BigInteger)
    orders: Mapped[int]
    customers: Mapped[int]
    cancellations: Mapped[int]
    refunds: Mapped[int]
    refunded: Mapped[int] = mapped_column(BigInteger)
    captured: Mapped[int] = mapped_column(BigInteger, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now())
