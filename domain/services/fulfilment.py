"""Fulfilment: one shipment per paid order, stock off the shelf, order shipped, customer told."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from domain.models import OrderStatus, Shipment, ShippingStatus
from domain.services import notify, orders, stock

CARRIER = "Backroom Parcel"


def tracking_number(order_id: uuid.UUID) -> str:
    """Stable per order, so a replayed fulfilment can never make a second parcel."""
    return "BRP" + hashlib.sha256(order_id.bytes).hexdigest()[:17].upper()


def fulfil(session: Session, order_id: uuid.UUID, now: datetime) -> str:
    order = orders.locked(session, order_id)
    if order is None or order.status != OrderStatus.PROCESSING:
        return "skipped" if order is None else order.status.value
    stock.ship_out(session, order)
    number = tracking_number(order.id)
    session.add(
        Shipment(
            order_id=order.id,
            tracking_number=number,
            carrier=CARRIER,
            shipping_method=order.shipping_method,
            status=ShippingStatus.SHIPPED,
            shipped_at=now,
            estimated_delivery_date=now + timedelta(days=3),
            address=dict(order.shipping_address),
        )
    )
    order.tracking_number, order.shipping_status = number, ShippingStatus.SHIPPED
    orders.move(session, order, OrderStatus.SHIPPED, now, f"shipped with {CARRIER} {number}")
    notify.prepare(
        session, order, notify.Kind.ORDER_SHIPPED, tracking_number=number, carrier=CARRIER
    )
    return order.status.value
