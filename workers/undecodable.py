"""Messages that reach a worker but are not tasks it can run: kept as dead letters.

Celery's consumer drops such a message with a log line (which quotes the body, payment token
and all): a body that is not JSON, a content type that is not accepted, a message without the
`task`/`id` headers and an unknown task name. It runs two kinds Backroom does not take: a
protocol 1 message (task, id, args and kwargs in the body, no headers), which Celery converts,
a body of any size, and arguments nested so deep that handing them to a pool process (Celery
pickles them) raises RecursionError in the worker's main loop and kills the worker. A body
that is not `[args, kwargs, embed]` raises inside Celery's handler (`Request.__init__` unpacks
it), outside any hook.

`KeepingConsumer` (the app's `worker_consumer`) looks at each task message before Celery's
handler does (`judge`). A message that is not a task Backroom runs becomes a row of
`dead_letters` (`workers.message_letter`: task, id, queue, headers, properties, content type
and body), and only then is it acknowledged. Celery's own hooks for such messages keep them the
same way, for a case `judge` did not foresee. Nothing about it is logged but its task, id and
reason.

When the database cannot take the letter, the message is not acknowledged: it stays with this
worker, counted against its prefetch, and the worker tries again after 1, 2, 4, ... 30 s (a
requeue would hand it straight back: a hot loop). If the worker stops meanwhile, the broker
gives the message out again (RabbitMQ when the connection closes; Redis at shutdown, or after
the visibility timeout), so it is never lost. A letter that the database refuses for its
content is kept without its body. Each try runs in the worker's event loop and waits at most
5 s for the connection and 5 s for the statement.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Container, Mapping
from dataclasses import replace
from typing import Any, Final

from celery.exceptions import NotRegistered
from celery.utils.objects import Bunch
from kombu.serialization import prepare_accept_content
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from domain.db import database_away, make_engine, session_factory
from domain.secrets import Sealer
from workers import runtime
from workers.compat import TaskConsumer
from workers.message_letter import BODY_LIMIT, NO_NAME, TIMEOUT, Refusal, keep, raw_body
from workers.request import channel_gone
from workers.settings import load_settings

log = logging.getLogger("backroom.worker")

RETRY_MAX: Final = 30
# How deep a task's arguments may nest. Celery pickles them to hand them to a pool process,
# recursively: about 500 levels raise RecursionError in the worker's main loop, which kills
# the worker. No public payload nests more than 4 levels.
MAX_NESTING: Final = 200


def judge(
    headers: Mapping[str, Any],
    content_type: str | None,
    size: int,
    decode: Callable[[], Any],
    *,
    known: Container[str],
    accept: Collection[str],
) -> Refusal | None:
    """None for a protocol 2 JSON task message of a known task; else the first thing wrong.

    `decode` is called only for an accepted content type within the size limit."""
    named = _named(headers)
    if size > BODY_LIMIT:
        return replace(named, reason=f"body is {size:,} bytes, over the {BODY_LIMIT:,}-byte limit")
    if content_type not in accept:
        only = " or ".join(sorted(accept))
        shown = content_type or "(none)"
        return replace(named, reason=f"content type {shown} is not accepted ({only} only)")
    try:
        body = decode()
    except Exception as exc:  # kombu's DecodeError carries json's own message
        return replace(named, reason=f"body is not valid JSON: {exc}")
    if "task" not in headers and isinstance(body, dict) and "task" in body:
        return _protocol_1(body)
    return _check_v2(headers, body, named, known)


def _named(headers: Mapping[str, Any]) -> Refusal:
    task, task_id = headers.get("task"), headers.get("id")
    return Refusal(
        reason="",
        task=task if isinstance(task, str) and task else NO_NAME,
        task_id=task_id if isinstance(task_id, str) else None,
    )


def _protocol_1(body: dict[str, Any]) -> Refusal:
    task, task_id = body.get("task"), body.get("id")
    return Refusal(
        reason="protocol 1 message (task, id, args and kwargs in the body, no task headers):"
        " Backroom runs Celery protocol 2 only; send it again as protocol 2",
        task=task if isinstance(task, str) and task else NO_NAME,
        task_id=task_id if isinstance(task_id, str) else None,
    )


def _check_v2(
    headers: Mapping[str, Any], body: Any, named: Refusal, known: Container[str]
) -> Refusal | None:
    missing = [f"'{name}'" for name in ("task", "id") if name not in headers]
    if missing:
        what = "header" if len(missing) == 1 else "headers"
        return replace(named, reason=f"missing {what} {' and '.join(missing)}")
    for name in ("task", "id"):
        if not isinstance(headers[name], str):
            return replace(named, reason=f"header '{name}' is not a string")
    if not _v2_body(body):
        return replace(named, reason="body is not a protocol 2 task body [args, kwargs, embed]")
    if _nested_deeper_than(body, MAX_NESTING):
        return replace(named, reason=f"body is nested deeper than {MAX_NESTING} levels")
    if headers["task"] not in known:
        return replace(named, reason=f"unknown task {headers['task']}", unknown_task=True)
    return None


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """True when lists or objects in `value` nest more than `limit` levels (walked without
    recursion, so the walk itself cannot be made to overflow)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if not isinstance(item, dict | list | tuple):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def _v2_body(body: Any) -> bool:
    return (
        isinstance(body, list | tuple)
        and len(body) == 3
        and isinstance(body[0], list | tuple)
        and isinstance(body[1], dict)
        and (body[2] is None or isinstance(body[2], dict))
    )


def _said(exc: BaseException) -> str:
    """An error on one line: the database's own words, not the statement and its parameters."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}"


class KeepingConsumer(TaskConsumer):
    """Celery's consumer, keeping each message that is not a task as a dead letter."""

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
        celery_handler: Callable[[Any], Any] = super().create_task_handler(*args, **kwargs)
        accept = prepare_accept_content(self.app.conf.accept_content)  # type: ignore[no-untyped-call]

        def on_task_received(message: Any) -> Any:
            headers = message.headers if isinstance(message.headers, Mapping) else {}
            refusal = judge(
                headers,
                message.content_type,
                len(raw_body(message.body)),
                message.decode,  # kombu caches it: Celery's handler does not decode again
                known=self.strategies,
                accept=accept,
            )
            if refusal is None:
                return celery_handler(message)
            self.keep_letter(message, refusal)
            return None

        return on_task_received

    # Celery's hooks, for what `judge` did not foresee: kept the same way, never logged whole.
    def on_decode_error(self, message: Any, exc: Exception) -> None:
        self.keep_letter(message, self._refusal(message, f"message could not be decoded: {exc}"))

    def on_unknown_message(self, body: Any, message: Any) -> None:
        self.keep_letter(message, self._refusal(message, "not a task message"))

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        refusal = self._refusal(message, "unknown task")
        self.keep_letter(message, replace(refusal, reason=f"unknown task {refusal.task}"))

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        self.keep_letter(message, self._refusal(message, f"invalid task message: {exc}"))

    def _refusal(self, message: Any, reason: str) -> Refusal:
        headers = message.headers if isinstance(message.headers, Mapping) else {}
        return replace(_named(headers), reason=reason)

    def keep_letter(self, message: Any, refusal: Refusal, attempt: int = 0) -> None:
        """Record, then acknowledge; if the database cannot take it, hold it and try again."""
        if channel_gone(message.channel):
            log.warning("message not kept yet; its connection closed: the broker resends it")
            return
        try:
            letter_id = self._record(message, refusal)
        except Exception as exc:
            self._hold(message, refusal, attempt, exc)
            return
        log.warning(
            "dead letter %d: a message that is not a task: %s (task=%s id=%s)",
            letter_id,
            refusal.reason,
            refusal.task,
            refusal.task_id,
        )
        if channel_gone(message.channel):  # closed while recording: it comes again
            log.warning("ack of dead letter %d's message skipped: its connection closed", letter_id)
            return
        message.ack_log_error(log, self.connection_errors)
        if refusal.unknown_task:
            self._tell_caller(message, refusal)

    def _record(self, message: Any, refusal: Refusal) -> int:
        """The letter's id. A database that is away raises; a letter it (or `describe`)
        cannot take with its body is kept without it."""
        try:
            return keep(self._letters, self._sealer, message, refusal)
        except Exception as exc:
            if isinstance(exc, DBAPIError) and database_away(exc):
                raise
            why = f"body not stored: {_said(exc)}"
            log.warning("dead letter for task %s id %s: %s", refusal.task, refusal.task_id, why)
            return keep(self._letters, self._sealer, message, refusal, without_body=why[:500])

    def _hold(self, message: Any, refusal: Refusal, attempt: int, exc: Exception) -> None:
        if self.hub is None:  # no event loop (a thread timer must not touch the channel)
            log.error(
                "could not keep a message that is not a task as a dead letter (%s): left"
                " unacknowledged until the broker gives it out again",
                _said(exc),
            )
            return
        delay = min(RETRY_MAX, 2**attempt)
        log.warning(
            "could not keep a message that is not a task as a dead letter (%s): it stays"
            " unacknowledged; next try in %d s (task=%s id=%s)",
            _said(exc),
            delay,
            refusal.task,
            refusal.task_id,
        )
        self.timer.call_after(delay, self.keep_letter, (message, refusal, attempt + 1))

    def _tell_caller(self, message: Any, refusal: Refusal) -> None:
        """As Celery does for an unknown task: the caller's result fails with NotRegistered."""
        if refusal.task_id is None:
            return
        properties = message.properties or {}
        request = Bunch(
            name=refusal.task,
            chord=None,
            root_id=(message.headers or {}).get("root_id"),
            correlation_id=properties.get("correlation_id"),
            reply_to=properties.get("reply_to"),
            errbacks=None,
        )
        try:
            self.app.backend.mark_as_failure(
                refusal.task_id, NotRegistered(refusal.task), request=request
            )
        except Exception as exc:  # no result backend, or it is away: the letter is kept
            log.info("result of unknown task %s not stored: %s", refusal.task_id, exc)
        if self.event_dispatcher:
            self.event_dispatcher.send(
                "task-failed",
                uuid=refusal.task_id,
                exception=f"NotRegistered({refusal.task!r})",
            )

    @functools.cached_property
    def _sealer(self) -> Sealer:
        return runtime.sealer(load_settings())

    @functools.cached_property
    def _letters(self) -> sessionmaker[Session]:
        """Sessions for letters, without a pool: no connection is kept (or crosses a fork)."""
        url = make_url(runtime.database_url(load_settings()))
        if "connect_timeout" not in url.query:
            url = url.update_query_dict({"connect_timeout": str(TIMEOUT)})
        return session_factory(make_engine(url, pool_size=0))
