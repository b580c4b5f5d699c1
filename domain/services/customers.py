"""Customers as orders name them: found by email, or created as a guest account."""

from __future__ import annotations

import hashlib
import uuid

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from domain.contracts import ContractViolation
from domain.models import Customer, User, UserStatus

_CUSTOMERS: Table = Customer.__table__  # type: ignore[assignment]


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
    session.execute(
        pg_insert(User)
        .values(
            email=email,
            username=username,
            first_name=first,
            last_name=last,
            user_type="customer",
            status=UserStatus.ACTIVE,
        )
        .on_conflict_do_nothing(index_elements=["email"])
    )
    user_id, kind = session.execute(
        select(User.id, User.user_type).where(User.email == email)
    ).one()
    if kind != "customer":
        raise ContractViolation("customer_email", f"{email} belongs to a {kind} account")
    session.execute(pg_insert(_CUSTOMERS).values(id=user_id).on_conflict_do_nothing())
    return user_id
