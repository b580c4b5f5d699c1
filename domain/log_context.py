"""What the lines logged now are about: the order and the step being run.

The runner binds the step (and the order, when the payload names it) for as long as the step
runs; where a handler learns the order's number (it placed the order, or loaded it) it binds
that too. The worker's log formatter (`workers.logs`) reads `current()` and puts the fields on
every line, whoever logs it: a handler, a service, SQLAlchemy, Celery.

The fields live in a `ContextVar`, so a thread or an asyncio task sees its own. They exist
only inside a `scope`: `scope` puts back what was there before when it ends, so a bind made
inside it (without an unbind of its own) ends with it and the next task a pool process runs
starts with nothing bound; a `bind` outside any scope (a service called by a script or a test,
not by a step) binds nothing, so nothing can outlive the work it was about.
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
# None: outside any scope, where nothing is bound and `bind` binds nothing.
_fields: ContextVar[Fields | None] = ContextVar("backroom_log_context", default=None)


def current() -> Fields:
    """The fields bound now (None: known not to apply, such as no order for this step)."""
    return _fields.get() or _NOTHING


def bind(**fields: str | None) -> Token[Fields | None] | None:
    """Bind `fields` over those bound now, inside the current scope; the token undoes it
    (`unbind`). Outside any scope it binds nothing (None)."""
    bound = _fields.get()
    if bound is None:
        return None
    return _fields.set(MappingProxyType({**bound, **fields}))


def unbind(token: Token[Fields | None] | None) -> None:
    """Put back the fields bound before `token`'s bind (and anything bound since)."""
    if token is not None:
        _fields.reset(token)


@contextmanager
def scope(**fields: str | None) -> Iterator[None]:
    """`fields` bound for the block; when it ends, every bind made in it is undone too."""
    token = _fields.set(MappingProxyType({**current(), **fields}))
    try:
        yield
    finally:
        _fields.reset(token)
