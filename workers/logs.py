"""How Backroom's processes log: one line per event, readable text or JSON.

`BACKROOM_LOG_FORMAT` (`Settings.log_format`) picks the format: `text` (the default) or `json`
(one JSON object per line, for a log collector; a traceback is a field of its line, not lines
of its own). `configure` sets up the command line's logging (the beat and every other
command); the worker's Celery signals (`workers.app`) put the same formatter on the handlers
Celery makes.

Every line names what it is about, where that is known (None in JSON, `-` in text when not):
- `task_id`, `task_name`: the Celery task running in this process (a pool process), else the
  task a Celery line is about (the worker's "received", "succeeded", "retry" lines carry it
  in their arguments);
- `order`: the order number customers see, and `step`: the pipeline step being run (which may
  differ from the task, as when a task re-drives another step), both from `domain.log_context`.

Payment tokens never reach the output: whatever a line says (its message, its traceback) is
searched for tokens (a value after `payment_token` or `token`, and anything that looks like a
provider's token, `tok_...`, `pm_...`) and each is shown as `domain.secrets.redacted` shows
it: `tok_…(fingerprint 1a2b3c4d)`. A formatter never raises: a record without the task fields
(a pool process's death, logged by billiard) or whose arguments do not fit its message still
gives its line.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from celery import current_task

from domain import log_context
from domain.secrets import redacted
from workers.settings import Settings

LogFormat = Literal["text", "json"]
# What Celery is told to use (`worker_log_format`): only what every record has, so a handler
# Celery sets up out of this module's reach can never fail on a missing field.
PLAIN_FORMAT = "%(asctime)s %(levelname)s [%(processName)s] %(name)s: %(message)s"
UNKNOWN = "-"  # a field not known, in text lines

# A value written after a token's key (`payment_token=...`, `'token': '...'`), and a value
# that looks like a provider's token wherever it is (`tok_...`, `pm_...`). A value already
# redacted (`tok_…(fingerprint ...)`) matches neither.
_AFTER_KEY = re.compile(
    r"""(?P<key>\b(?:payment_)?token\b["']?\s*[:=]\s*["']?)(?P<token>[^\s"',;)}\]…]++)(?!…)"""
)
_LOOKS_LIKE = re.compile(r"\b(?:tok|btok|pm|card|src)_[A-Za-z0-9][A-Za-z0-9_\-]*+(?!…)")


def redact(text: str) -> str:
    """`text` with every payment token in it shown redacted (`tok_…(fingerprint 1a2b3c4d)`)."""
    text = _AFTER_KEY.sub(lambda found: found["key"] + redacted(found["token"]), text)
    return _LOOKS_LIKE.sub(lambda found: redacted(found[0]), text)


def _running_task() -> tuple[str, str] | None:
    """The id and name of the task this process (a pool process) is running, if any."""
    request = current_task.request if current_task else None
    if request is None or request.id is None:
        return None
    return str(request.id), str(current_task.name)


def _celery_task(record: logging.LogRecord) -> tuple[str | None, str | None]:
    """The task id and name a Celery line is about: the arguments of "Task %(name)s[%(id)s]
    received" and its like."""
    args = record.args if record.name.startswith("celery") else None
    if isinstance(args, Mapping) and "id" in args and "name" in args:
        return str(args["id"]), str(args["name"])
    return getattr(record, "task_id", None), getattr(record, "task_name", None)


def fields(record: logging.LogRecord) -> dict[str, str | None]:
    """What the line is about: `task_id`, `task_name`, `order`, `step` (None: not known)."""
    task_id, task_name = _running_task() or _celery_task(record)
    bound = log_context.current()
    order, step = bound.get(log_context.ORDER), bound.get(log_context.STEP)
    return {"task_id": task_id, "task_name": task_name, "order": order, "step": step}


def utc_time(record: logging.LogRecord) -> str:
    """When the record was made: ISO 8601, UTC, milliseconds (`2024-05-01T12:34:56.789Z`)."""
    moment = datetime.fromtimestamp(record.created, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message(record: logging.LogRecord) -> str:
    """The record's message; its arguments shown beside it when they do not fit it."""
    try:
        return record.getMessage()
    except Exception:
        return f"{record.msg!s} (arguments that do not fit the message: {record.args!r})"


class _Lines(logging.Formatter):
    """What both formats share: the fields, the traceback text, the redaction."""

    def traceback(self, record: logging.LogRecord) -> str | None:
        """The record's traceback and stack, as text; None when it has neither."""
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        parts = [record.exc_text, record.stack_info and self.formatStack(record.stack_info)]
        found = "\n".join(part for part in parts if part)
        return found or None


class JsonFormatter(_Lines):
    """One JSON object per line: `time`, `level`, `logger`, `process`, `pid`, `message`,
    `task_id`, `task_name`, `order`, `step`, and `exc_info` when there is a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": utc_time(record),
            "level": record.levelname,
            "logger": record.name,
            "process": record.processName,
            "pid": record.process,
            "message": message(record),
            **fields(record),
        }
        traceback = self.traceback(record)
        if traceback is not None:
            line["exc_info"] = traceback
        shown = {
            key: redact(value) if isinstance(value, str) else value for key, value in line.items()
        }
        return json.dumps(shown, default=str)


class TextFormatter(_Lines):
    """`<time> <level> [<process>] task=<name> id=<id> order=<number> step=<step> <logger>:
    <message>`, the traceback on the lines after it."""

    def format(self, record: logging.LogRecord) -> str:
        about = {key: value or UNKNOWN for key, value in fields(record).items()}
        line = (
            f"{utc_time(record)} {record.levelname} [{record.processName}]"
            f" task={about['task_name']} id={about['task_id']} order={about['order']}"
            f" step={about['step']} {record.name}: {message(record)}"
        )
        traceback = self.traceback(record)
        return redact(line if traceback is None else f"{line}\n{traceback}")


def formatter(log_format: LogFormat) -> logging.Formatter:
    """The formatter of `log_format` lines."""
    return JsonFormatter() if log_format == "json" else TextFormatter()


def install(logger: logging.Logger, log_format: LogFormat) -> None:
    """Every handler of `logger` formats `log_format` lines."""
    for handler in logger.handlers:
        handler.setFormatter(formatter(log_format))


def _log_uncaught(kind: type[BaseException], error: BaseException, tb: Any) -> None:
    logging.getLogger("backroom").critical("uncaught %s", kind.__name__, exc_info=(kind, error, tb))


def capture_strays(log_format: LogFormat) -> None:
    """Python's warnings become log lines; in JSON, an uncaught error too (not a bare
    traceback on stderr)."""
    logging.captureWarnings(True)
    if log_format == "json":
        sys.excepthook = _log_uncaught


class _CommandLines(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler `configure` puts on the root logger: replaced when it runs again."""


def configure(settings: Settings, level: int = logging.WARNING) -> None:
    """The command line's logging: lines of `settings.log_format` on stderr, from `level` up
    (a command may let a logger of its own say more, as the beat does). Handlers someone else
    put on the root logger (a test's) stay."""
    handler = _CommandLines()
    handler.setFormatter(formatter(settings.log_format))
    root = logging.getLogger()
    others = [each for each in root.handlers if not isinstance(each, _CommandLines)]
    root.handlers = [*others, handler]
    root.setLevel(level)
    capture_strays(settings.log_format)
