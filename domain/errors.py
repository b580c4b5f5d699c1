"""Domain errors: each says what is wrong in words an operator understands.

`PermanentError` means trying again cannot help; `RetryableError` means it may.
"""

from __future__ import annotations


def first_line(error: BaseException) -> str:
    """The error in one line, for a log line or an operator: its message's first line, or its
    type's name when it has no message."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class DomainError(Exception):
    """Base of every error the domain raises on purpose."""


class PermanentError(DomainError):
    """Bad input or a broken rule: retrying the same thing fails the same way."""


class RetryableError(DomainError):
    """A passing fault (a lock, a timeout, a provider hiccup): the same call may succeed."""


class InvalidValue(PermanentError, ValueError):
    """A value does not have the form the domain needs."""


class Refused(PermanentError):
    """A valid request the domain answers 'no' to (no such order, too late to cancel): the
    caller's answer, not a fault, so it is not kept as a dead letter."""


class RuleViolated(PermanentError):
    """The database refused a change because it breaks one of the model's rules.

    Its text is `sentence (rule)`, and it can be rebuilt from that text alone, as pickle and a
    Celery client rebuild an exception: a dead letter and a caller see `RuleViolated`."""

    def __init__(self, rule: str, message: str | None = None) -> None:
        if message is None:  # rebuilt from its own text
            message, rule = rule, rule.rpartition(" (")[2].removesuffix(")")
        super().__init__(message)
        self.rule = rule
        self.message = message
