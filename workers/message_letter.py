"""A kombu message kept as a dead letter: what `workers.undecodable` records of a message that
is not a task.

The body is kept whole up to `BODY_LIMIT` (1 MiB): parsed when it is JSON (so that
`dead_letters.record` finds a `payment_token` inside it), else as text, else base64. The
largest message the public contract admits (100 lines, every string at its maximum length in
escaped unicode) is about 23 KB, and the internal steps carry ids, so a body over 1 MiB is no
task of Backroom's; it is not run, and the letter keeps its size, its sha256 and its first
part: its JSON with each string cut to 1,024 characters and each list or object to 100 items,
or (not JSON, over `PARSE_LIMIT`, or still too big) its first 64 KiB. `argsrepr` and
`kwargsrepr` are left out of the headers kept: they repeat the body as a string, where a
payment token could not be found to be sealed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from domain.db import unit_of_work
from domain.models import DeadLetter
from domain.secrets import Sealer
from domain.services import dead_letters
from domain.storable import MAX_DEPTH, TOO_DEEP, storable, storable_text

BODY_LIMIT: Final = 1024 * 1024
PARSE_LIMIT: Final = 16 * BODY_LIMIT  # an oversized body larger than this is not parsed
HEAD: Final = 64 * 1024
STRING_CUT: Final = 1024
ITEMS_CUT: Final = 100
NO_NAME: Final = "(no task name)"
ERROR_TYPE: Final = "NotATask"  # every such letter's; `dead-letters replay` refuses it
LEFT_OUT_HEADERS: Final = frozenset({"argsrepr", "kwargsrepr"})
TIMEOUT: Final = 5  # seconds a letter's statement may take (it runs in the worker's event loop)


@dataclass(frozen=True)
class Refusal:
    """Why a message is not a task Backroom runs, and the task and id it names, if any."""

    reason: str
    task: str = NO_NAME
    task_id: str | None = None
    unknown_task: bool = False


def describe(message: Any, *, without_body: str | None = None) -> tuple[dict[str, Any], str | None]:
    """The letter's payload for a kombu message, and what was cut from its body (or None).

    `without_body` (why) leaves the body out; its size and sha256 stay."""
    headers = message.headers if isinstance(message.headers, Mapping) else {}
    properties = dict(message.properties or {})
    properties.pop("application_headers", None)  # py-amqp: the headers, kept apart
    raw = raw_body(message.body)
    cut: str | None = without_body
    if without_body:
        body: dict[str, Any] = {**_facts(raw), "body_encoding": None, "body": None}
    else:
        body, cut = _body(raw)
    payload = {
        "content_type": message.content_type,
        "content_encoding": message.content_encoding,
        "headers": _plain({k: v for k, v in headers.items() if k not in LEFT_OUT_HEADERS}),
        "properties": _plain(properties),
        **body,
        "body_cut": cut,
    }
    return payload, cut


def raw_body(body: Any) -> bytes:
    """A kombu message's body as bytes (py-amqp may give a str)."""
    if body is None:
        return b""
    return body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)


def _facts(raw: bytes) -> dict[str, Any]:
    return {"body_size": len(raw), "body_sha256": hashlib.sha256(raw).hexdigest()}


def _body(raw: bytes) -> tuple[dict[str, Any], str | None]:
    whole = len(raw) <= BODY_LIMIT
    parsed = _json(raw) if len(raw) <= PARSE_LIMIT else _NOT_JSON
    if parsed is not _NOT_JSON:
        kept, cut = (parsed, None) if whole else (_shrink(parsed), _SHRUNK)
        if cut is None or len(json.dumps(kept)) <= BODY_LIMIT:
            return {**_facts(raw), "body_encoding": "json", "body": kept}, cut
    head = raw if whole else raw[:HEAD]
    cut = None if whole else f"kept its size, sha256 and first {HEAD:,} bytes"
    try:
        return {**_facts(raw), "body_encoding": "text", "body": _text(head, whole)}, cut
    except UnicodeDecodeError:
        kept = base64.b64encode(head).decode("ascii")
        return {**_facts(raw), "body_encoding": "base64", "body": kept}, cut


_NOT_JSON: Final = object()
_SHRUNK: Final = (
    f"kept its size, sha256 and JSON with each string cut to {STRING_CUT:,} characters"
    f" and each list or object to {ITEMS_CUT} items"
)


def _json(raw: bytes) -> Any:
    """The body parsed, or `_NOT_JSON`; nested deeper than `storable` keeps counts as not
    JSON (and every walk over it below stays that shallow)."""

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")  # NaN, Infinity: PostgreSQL's JSON has none

    try:
        parsed = json.loads(raw, parse_constant=no_constants)
    except (ValueError, RecursionError):
        return _NOT_JSON
    return parsed if _depth_within(parsed, MAX_DEPTH) else _NOT_JSON


def _depth_within(value: Any, limit: int) -> bool:
    level, depth = [value], 0
    while level:
        depth += 1
        if depth > limit:
            return False
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, dict | list)
        ]
    return True


def _text(head: bytes, whole: bool) -> str:
    return head.decode("utf-8") if whole else head.decode("utf-8", "replace")


def _shrink(value: Any) -> Any:
    if isinstance(value, str) and len(value) > STRING_CUT:
        return f"{value[:STRING_CUT]}... [{len(value):,} characters, cut]"
    if isinstance(value, list) and len(value) > ITEMS_CUT:
        return [_shrink(v) for v in value[:ITEMS_CUT]] + [f"... [{len(value):,} items, cut]"]
    if isinstance(value, list):
        return [_shrink(v) for v in value]
    if isinstance(value, dict):
        kept = {k: _shrink(v) for k, v in list(value.items())[:ITEMS_CUT]}
        if len(value) > ITEMS_CUT:
            kept["..."] = f"[{len(value):,} keys, cut]"
        return kept
    return value


def _plain(value: Any, depth: int = 0) -> Any:
    """Broker headers or properties as JSON types (AMQP's may hold bytes, datetimes, decimals)."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, bytes | bytearray):
        return {"base64": base64.b64encode(value).decode("ascii")}
    return str(value)


def _fit(value: str | None, column: str) -> str | None:
    """A value from the message (the sender's), cut to its column and storable as text."""
    if value is None:
        return None
    length = getattr(DeadLetter.__table__.c[column].type, "length", None)
    return storable_text(value[:length] if length else value)


# The open letter of a message delivered before: same task id (or none) and the same body.
# The advisory lock makes two deliveries at once wait for each other.
_KEPT_BEFORE = text(
    "SELECT id FROM (SELECT pg_advisory_xact_lock(hashtext(:sha))) AS waited,"
    " dead_letters WHERE status = 'open' AND error_type = :error_type"
    " AND task_id IS NOT DISTINCT FROM :task_id AND payload ->> 'body_sha256' = :sha"
    " ORDER BY id LIMIT 1"
)


def _kept_before(session: Session, task_id: str | None, sha: object) -> int | None:
    if not isinstance(sha, str):
        return None
    params = {"sha": sha, "task_id": _fit(task_id, "task_id"), "error_type": ERROR_TYPE}
    found = session.execute(_KEPT_BEFORE, params).scalar()
    return None if found is None else int(found)


def keep(
    factory: sessionmaker[Session],
    sealer: Sealer,
    message: Any,
    refusal: Refusal,
    *,
    without_body: str | None = None,
) -> int:
    """Record the message as a dead letter (`without_body`: why its body is left out), once:
    a message delivered again finds its letter. Raises what the database raised."""
    described, cut = describe(message, without_body=without_body)
    payload, replaced = storable(described)  # what PostgreSQL cannot hold (a NUL, ...) replaced
    queue = (message.delivery_info or {}).get("routing_key")
    reason = refusal.reason if cut is None else f"{refusal.reason}; {cut}"
    if replaced:
        reason += f" [kept with {replaced} part(s) PostgreSQL cannot store replaced]"
    with unit_of_work(factory) as session:
        session.execute(text(f"SET LOCAL statement_timeout = '{TIMEOUT}s'"))
        kept = _kept_before(session, refusal.task_id, payload.get("body_sha256"))
        if kept is not None:  # delivered again (the ack was lost): the letter is there
            return kept
        return dead_letters.record(
            session,
            task=_fit(refusal.task, "task") or NO_NAME,
            task_id=_fit(refusal.task_id, "task_id"),
            queue=_fit(queue if isinstance(queue, str) else None, "queue"),
            payload=payload,
            reason=storable_text(reason),
            error_type=ERROR_TYPE,
            sealer=sealer,  # a payment token in the body is kept sealed
        )
