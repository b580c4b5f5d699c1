"""What the lines logged now are about: the order and the step being run.

The runner binds the step (and the order, when the payload names it) for as long as the step
runs; where a handler learns the order's number (it placed the order, or loaded it) it binds
that too. The worker's log formatter (`workers.logs`) reads `current()` and puts the fields on
every line, whoever logs it: a handler, a service, SQLAlchemy, Celery.

The fields live in a `ContextVar`, so a thread or an asyncio task sees its own. `scope` puts
back what was there before when it ends: a bind made inside it (without an unbind of its own)
ends with it, so the next task a pool process runs starts with nothing bound.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import MappingProxyType

ORDER = "order"  # the order number customers see (`Order.order_number`)
STEP = "step"  # the pipeline step being run (`domain.steps`)

Fields = Mapping[str, str | None]
_NOTHING: Fields = MappingProxyType({})
_fields: ContextVar[Fields] = ContextVar("backroom_log_context", default=_NOTHING)


def current() -> Fields:
    """The fields bound now (None: known not to apply, such as no order for this step)."""
    return _fields.get()


def bind(**fields: str | None) -> Token[Fields]:
    """Bind `fields` over those bound now; the token undoes it (`unbind`)."""
    return _fields.set(MappingProxyType({**_fields.get(), **fields}))


def unbind(token: Token[Fields]) -> None:
    """Put back the fields bound before `token`'s bind (and anything bound since)."""
    _fields.reset(token)


@contextmanager
def scope(**fields: str | None) -> Iterator[None]:
    """`fields` bound for the block; when it ends, every bind made in it is undone too."""
    token = bind(**fields)
    try:
        yield
    finally:
        unbind(token)
