"""Reorder requests: low stock asked of its vendor, once per SKU per shop-local day.

`request` makes one request for each stock row at or below its reorder point, in one
statement; the UNIQUE (sku, day) key makes a second check on the same day add nothing.
A variant has no reorder settings of its own: it is checked against its product's
(`inventory.reorder_point`, and `reorder_quantity` is what is asked for), each variant's stock
on its own; a variant whose product has no stock row is not checked. Stock not tracked
(`track_inventory` off), deleted or discontinued products and deleted or inactive variants
are not reordered.

`email_vendors` sends each vendor one email listing its open requests not emailed yet, and
marks them emailed the moment the mail server took it, in a statement of its own retried while
the database is away (`uow.record_now`), whatever becomes of the run's transaction. So the
requests it emails must be committed before (`request` is one statement, committed on its own
by the job). One run emails at a time: the run's transaction takes an advisory lock first, and
a second run waits for it, then finds the requests emailed. A refusal by the mail server
leaves that vendor's requests unmarked, for the next run.

`close` is what a restock naming a request does: the request is closed by the restock's key.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from domain import uow
from domain.contracts import ContractViolation
from domain.models import (
    Product,
    ProductStatus,
    ProductVariant,
    ReorderRequest,
    ReorderStatus,
    User,
    Vendor,
)
from domain.notifications import KIND_HEADER
from domain.ports import Email, Mailer
from domain.services.mailing import Mailing, send_each
from domain.services.state import PRODUCT_STOCK, VARIANT_STOCK
from domain.sql import Statement
from domain.validation import sql_literal

REQUESTS = ReorderRequest.__tablename__
PRODUCTS = Product.__tablename__
KIND = "reorder_request"  # the emails' X-Backroom-Kind
_OPEN, _CLOSED = sql_literal(ReorderStatus.OPEN), sql_literal(ReorderStatus.CLOSED)
_SOLD = f"p.deleted_at IS NULL AND p.status <> {sql_literal(ProductStatus.DISCONTINUED)}"

# Every low stock row, products' then variants' (with their product's settings), in SKU
# order (two runs at once meet on the same keys in the same order).
_REQUEST = Statement(
    f"""
    INSERT INTO {REQUESTS} (sku, day, inventory_id, inventory_variant_id, vendor_id,
                            quantity, available, reorder_point, slot)
    SELECT p.sku, CAST(:day AS date), i.id, NULL, p.vendor_id,
           i.reorder_quantity, i.quantity_available, i.reorder_point, CAST(:slot AS timestamptz)
    FROM {PRODUCT_STOCK} i JOIN {PRODUCTS} p ON p.id = i.product_id
    WHERE i.track_inventory AND i.quantity_available <= i.reorder_point AND {_SOLD}
    UNION ALL
    SELECT v.sku, CAST(:day AS date), NULL, iv.id, p.vendor_id,
           i.reorder_quantity, iv.quantity_available, i.reorder_point, CAST(:slot AS timestamptz)
    FROM {VARIANT_STOCK} iv
    JOIN {ProductVariant.__tablename__} v ON v.id = iv.variant_id
    JOIN {PRODUCTS} p ON p.id = v.product_id
    JOIN {PRODUCT_STOCK} i ON i.product_id = p.id
    WHERE i.track_inventory AND iv.quantity_available <= i.reorder_point AND {_SOLD}
      AND v.deleted_at IS NULL AND v.is_active
    ORDER BY 1
    ON CONFLICT (sku, day) DO NOTHING
    RETURNING id
    """
)
# One emailing run at a time, until its transaction ends (the key spells "reorder!").
_ONE_AT_A_TIME = Statement("SELECT pg_advisory_xact_lock(CAST(:key AS bigint))")
EMAILING_LOCK = 0x72656F7264657221
# Open requests not emailed yet, with their vendor's address, in one fixed order.
_UNSENT = Statement(
    f"""
    SELECT r.id, r.vendor_id, u.email, v.business_name, r.sku, r.quantity, r.available,
           r.reorder_point
    FROM {REQUESTS} r
    JOIN {Vendor.__tablename__} v ON v.id = r.vendor_id
    JOIN {User.__tablename__} u ON u.id = v.id
    WHERE r.emailed_at IS NULL AND r.status = {_OPEN}
    ORDER BY r.vendor_id, r.sku, r.id
    """
)
_EMAILED = Statement(f"UPDATE {REQUESTS} SET emailed_at = :now WHERE id = ANY(:ids)")
# The request named, locked; closed if it is open and for this SKU.
_CLOSE = Statement(
    f"""
    WITH found AS (SELECT id, sku, status FROM {REQUESTS} WHERE id = :id FOR UPDATE),
    closed AS (
        UPDATE {REQUESTS} r SET status = {_CLOSED}, closed_at = :now, closed_by = :key
        FROM found
        WHERE r.id = found.id AND found.sku = CAST(:sku AS varchar) AND found.status = {_OPEN}
        RETURNING r.id
    )
    SELECT found.sku, EXISTS (SELECT 1 FROM closed) AS closed FROM found
    """
)


@dataclass(frozen=True)
class Line:
    """One request as its vendor's email lists it."""

    id: int
    sku: str
    quantity: int
    available: int
    reorder_point: int


@dataclass(frozen=True)
class VendorRequests:
    """A vendor's open requests not emailed yet, and where to email them."""

    vendor_id: uuid.UUID
    email: str
    name: str
    lines: tuple[Line, ...]


def request(session: Session, day: date, slot: datetime) -> int:
    """One request for each low stock row whose SKU has none for `day` yet; how many were made."""
    return len(_REQUEST.run(session, {"day": day, "slot": slot}))


def unsent(session: Session) -> list[VendorRequests]:
    """Open requests not emailed yet, by vendor."""
    by_vendor: dict[uuid.UUID, list[Any]] = {}
    for row in _UNSENT.run(session):
        by_vendor.setdefault(row.vendor_id, []).append(row)
    return [_vendor(rows) for rows in by_vendor.values()]


def _vendor(rows: Sequence[Any]) -> VendorRequests:
    first = rows[0]
    lines = tuple(Line(r.id, r.sku, r.quantity, r.available, r.reorder_point) for r in rows)
    return VendorRequests(first.vendor_id, first.email, first.business_name, lines)


def email_vendors(
    session: Session, factory: sessionmaker[Session], mailer: Mailer, now: datetime
) -> Mailing[VendorRequests]:
    """Email each vendor its open requests not emailed yet (`send_all`), each vendor's marked
    emailed `now` as soon as its email went out; nothing is marked for a vendor whose email was
    refused. Waits first for any other run emailing vendors (see the module)."""
    _ONE_AT_A_TIME.run(session, {"key": EMAILING_LOCK})

    def emailed(vendor: VendorRequests, _: Email) -> None:
        ids = [line.id for line in vendor.lines]
        what = f"reorder email to vendor {vendor.vendor_id} sent"
        uow.record_now(factory, lambda s: _EMAILED.run(s, {"ids": ids, "now": now}), what)

    return send_all(mailer, unsent(session), emailed)


def send_all(
    mailer: Mailer,
    vendors: Sequence[VendorRequests],
    on_sent: Callable[[VendorRequests, Email], None] = lambda vendor, email: None,
) -> Mailing[VendorRequests]:
    """One email per vendor (`mailing.send_each`: a refused address is passed over, a server
    that cannot take mail now ends the run)."""
    return send_each(mailer, vendors, reorder_email, on_sent)


def reorder_email(vendor: VendorRequests) -> Email:
    """The email asking `vendor` for its SKUs; its Message-ID is made of the requests it lists,
    the same whichever run sends it, so a receiver can drop a repeat."""
    skus = len({line.sku for line in vendor.lines})
    listed = "\n".join(
        f"  Request {line.id}: {line.sku}, {line.quantity} units"
        f" (available: {line.available}, reorder point: {line.reorder_point})"
        for line in vendor.lines
    )
    text = (
        f"Hello {vendor.name},\n\nPlease deliver the following, and quote the request number"
        f" with the delivery:\n\n{listed}\n\nKind regards,\nPurchasing\n"
    )
    listing = hashlib.sha256(",".join(str(line.id) for line in vendor.lines).encode())
    return Email(
        to=vendor.email,
        subject=f"Reorder request: {skus} SKU{'' if skus == 1 else 's'}",
        text=text,
        message_id=f"reorder-{vendor.vendor_id}-{listing.hexdigest()[:16]}@backroom",
        headers={KIND_HEADER: KIND},
    )


def close(session: Session, request_id: int, sku: str, key: str, now: datetime) -> bool:
    """Close the open request `request_id` for `sku`, by the restock `key`; False if it was
    closed already. `ContractViolation` naming `reorder_request` if there is no such request
    or it is for another SKU."""
    params = {"id": request_id, "sku": sku, "key": key, "now": now}
    found = _CLOSE.run(session, params).one_or_none()
    if found is None:
        raise ContractViolation("reorder_request", f"no reorder request {request_id}")
    if found.sku != sku:
        message = f"reorder request {request_id} is for {found.sku}, not {sku}"
        raise ContractViolation("reorder_request", message)
    return bool(found.closed)
