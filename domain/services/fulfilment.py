"""Fulfilment: one shipment per paid order, stock off the shelf, order shipped, customer told."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from domain.models import OrderStatus, Shipment, ShippingStatus
from domain.notifications import Kind
from domain.services import notify, state, stock
from domain.services.state import Outcome
from domain.sql import Statement

CARRIER = "Backroom Parcel"
_SHIP = Statement(
    f"INSERT INTO {Shipment.__tablename__} (order_id, tracking_number, carrier, shipping_method,"
    " status, shipped_at, estimated_delivery_date, address) VALUES (:order_id, :tracking_number,"
    " :carrier, :shipping_method, :status, :shipped_at, :estimated_delivery_date,"
    " CAST(:address AS jsonb))"
)


def tracking_number(order_id: uuid.UUID) -> str:
    """Stable per order, so a replayed fulfilment can never make a second parcel."""
    return "BRP" + hashlib.sha256(order_id.bytes).hexdigest()[:17].upper()


def fulfil(session: Session, order_id: uuid.UUID, now: datetime) -> Outcome | None:
    """Ship a paid order: stock off the shelf, one shipment, the order shipped, the customer
    told. None if there is no such order; unchanged if it is not waiting to ship."""
    order = state.load(session, order_id)
    if order is None or order.status != OrderStatus.PROCESSING:
        return None if order is None else Outcome.of(order)
    stock.ship_out(session, order)
    number = tracking_number(order.id)
    _SHIP.run(
        session,
        {
            "order_id": order.id,
            "tracking_number": number,
            "carrier": CARRIER,
            "shipping_method": order.shipping_method,
            "status": ShippingStatus.SHIPPED.value,
            "shipped_at": now,
            "estimated_delivery_date": now + timedelta(days=3),
            "address": json.dumps(order.shipping_address),
        },
    )
    state.transition(
        session,
        order,
        OrderStatus.SHIPPED,
        now,
        f"shipped with {CARRIER} {number}",
        tracking_number=number,
        shipping_status=ShippingStatus.SHIPPED,
    )
    emailed = notify.prepare(
        session,
        order.id,
        order.customer_email,
        Kind.ORDER_SHIPPED,
        tracking_number=number,
        carrier=CARRIER,
    )
    return Outcome.of(order).moved_to(OrderStatus.SHIPPED, emails=emailed)
