"""Customers as orders name them: found by email, or created as a guest account."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy.orm import Session

from domain.contracts import ContractViolation
from domain.models import Customer, User, UserStatus
from domain.sql import Statement
from domain.validation import sql_literal

USERS = User.__tablename__
CUSTOMER = Customer.__mapper_args__["polymorphic_identity"]  # users.user_type of a customer

_FIND = Statement(f"SELECT id, user_type, false AS created FROM {USERS} WHERE email = :email")
# One round trip: create the guest user unless the email is known, and say which happened.
# No conflict target: two orders creating the same guest at once collide on the username (made
# from the email) as well as the email, and PostgreSQL only absorbs a collision on an arbiter.
_FIND_OR_CREATE = Statement(
    f"""
    WITH created AS (
        INSERT INTO {USERS} (id, email, username, first_name, last_name, user_type, status)
        VALUES (:id, :email, :username, :first, :last, {sql_literal(CUSTOMER)},
                {sql_literal(UserStatus.ACTIVE)})
        ON CONFLICT DO NOTHING
        RETURNING id, user_type
    )
    SELECT id, user_type, true AS created FROM created
    UNION ALL
    SELECT id, user_type, false FROM {USERS}
    WHERE email = :email AND NOT EXISTS (SELECT 1 FROM created)
    """
)
_CUSTOMER_ROW = Statement(
    f"INSERT INTO {Customer.__tablename__} (id) VALUES (:id) ON CONFLICT DO NOTHING"
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
        row = _FIND.run(session, {"email": email}).one()
    if row.user_type != CUSTOMER:
        raise ContractViolation("customer_email", f"{email} belongs to a {row.user_type} account")
    if row.created:
        _CUSTOMER_ROW.run(session, {"id": row.id})
    return row.id  # type: ignore[no-any-return]
