"""Declarative base, naming convention and the column mixins every table shares."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Computed,
    Date,
    DateTime,
    Enum,
    FetchedValue,
    MetaData,
    Numeric,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONDoc = dict[str, Any]
JSONList = list[Any]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 (SQLAlchemy reads this class attribute)
        datetime: DateTime(timezone=True),
        date: Date(),
        Decimal: Numeric(10, 3),
        JSONDoc: JSON().with_variant(JSONB(), "postgresql"),
        JSONList: JSON().with_variant(JSONB(), "postgresql"),
    }


def str_enum(kind: type[enum.Enum], name: str) -> Enum:
    """An enum stored as VARCHAR with a CHECK: new values need no `ALTER TYPE`."""
    return Enum(
        kind,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=32,
        validate_strings=True,
        values_callable=lambda members: [member.value for member in members],
    )


def check(sql: str, name: str) -> CheckConstraint:
    return CheckConstraint(sql, name=name)


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True,
        default=uuid.uuid4,
        server_default=func.gen_random_uuid(),
        sort_order=-100,
    )


class TimestampMixin:
    """`created_at` and `updated_at` come from the server (a trigger keeps `updated_at`)."""

    created_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), index=True, sort_order=100
    )
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), server_onupdate=FetchedValue(), sort_order=100
    )


class SoftDeleteMixin:
    """`deleted_at` is the state; `is_deleted` is derived from it by PostgreSQL."""

    deleted_at: Mapped[datetime | None] = mapped_column(index=True, sort_order=90)
    is_deleted: Mapped[bool] = mapped_column(
        Computed("deleted_at IS NOT NULL", persisted=True), sort_order=90
    )

    def soft_delete(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("soft_delete needs an aware datetime")
        self.deleted_at = now

    def restore(self) -> None:
        self.deleted_at = None


class VersionMixin:
    """Optimistic locking: an UPDATE of a stale row raises `StaleDataError`."""

    version: Mapped[int] = mapped_column(default=1, server_default=text("1"), sort_order=100)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


class Entity(IdMixin, TimestampMixin, VersionMixin, Base):
    """The usual table: uuid id, server timestamps, optimistic version."""

    __abstract__ = True
