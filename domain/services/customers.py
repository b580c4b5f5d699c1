"""Customers as orders name them: found by email, or created as a guest account."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import Table, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from domain.contracts import ContractViolation
from domain.models import Customer
from domain.sql import Statement

_CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]

_FIND = text("SELECT id, user_type, false AS created FROM users WHERE email = :email")
# One round trip: create the guest user unless the email is known, and say which happened.
# No conflict target: two orders creating the same guest at once collide on the username (made
# from the email) as well as the email, and PostgreSQL only absorbs a collision on an arbiter.
_FIND_OR_CREATE = Statement(
    """
    WITH created AS (
        INSERT INTO users (id, email, username, first_name, last_name, user_type, status)
        VALUES (:id, :email, :username, :first, :last, 'customer', 'active')
        ON CONFLICT DO NOTHING
        RETURNING id, user_type
    )
    SELECT id, user_type, true AS created FROM created
    UNION ALL
    SELECT id, user_type, false FROM users
    WHERE email = :email AND NOT EXISTS (SELECT 1 FROM created)
    """
)


def _names(email: str, name: str | None) -> tuple[str, str]:
    words = (name or "").split()
    if not words:
        return email.split("@", 1)[0][:100], "-"
    return words[0][:100], (" ".join(words[1:]) or "-")[:100]


def customer_for(session: Session, email: str, name: str | None) -> uuid.UUID:
    """The customer with this email (a new guest account if none); safe under concurrency."""
    email = email.strip().lower()
    first, last = _names(email, name)
    username = "guest_" + hashlib.sha256(email.encode()).hexdigest()[:20]
    row = _FIND_OR_CREATE.run(
        session,
        {"id": uuid.uuid4(), "email": email, "username": username, "first": first, "last": last},
    ).one_or_none()
    if row is None:  # a concurrent order created it after this statement's snapshot: look again
        row = session.execute(_FIND, {"email": email}).one()
    if row.user_type != "customer":
        raise ContractViolation("customer_email", f"{email} belongs to a {row.user_type} account")
    if row.created:
        session.execute(pg_insert(_CUSTOMERS).values(id=row.id).on_conflict_do_nothing())
    return row.id  # type: ignore[no-any-return]
