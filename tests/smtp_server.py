"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, on a port the system picks.

It keeps every message it accepts (envelope and raw bytes, parsed), and can be told to refuse
a recipient (550, or any reply) or to answer 451 to the next N messages. It can require
STARTTLS (give it a certificate) and a login (give it credentials). It can be stopped and
started again on the same port (a mail server down for a while), keeping what it received.

Fixtures: `smtp_server` (a plain server) and `make_smtp_server` (with TLS or a login). Load
them with `pytest_plugins = ["tests.smtp_server"]` in a test module or the root conftest, and
import `SmtpServer` only under `TYPE_CHECKING` there (importing this module before pytest
registers it as a plugin makes pytest warn that it cannot rewrite its asserts).
"""

from __future__ import annotations

import asyncio
import email
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"


@dataclass(frozen=True)
class ReceivedMessage:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    message: EmailMessage


class RecordingHandler:
    """aiosmtpd handler: stores accepted messages; refuses as told. Safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[ReceivedMessage] = []
        self._refusals: dict[str, str] = {}
        self._failures_left = 0
        self._failure_reply = ""

    def reject_recipient(self, address: str, reply: str = "550 5.1.1 No such user") -> None:
        """Answer RCPT TO:<address> with `reply` (a 4xx reply makes it a temporary refusal)."""
        with self._lock:
            self._refusals[address.lower()] = reply

    def fail_next(self, count: int = 1, reply: str = "451 4.3.0 Try again later") -> None:
        """Answer the DATA of the next `count` messages with `reply` and drop them."""
        with self._lock:
            self._failures_left, self._failure_reply = count, reply

    @property
    def messages(self) -> list[ReceivedMessage]:
        with self._lock:
            return list(self._messages)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        with self._lock:
            refusal = self._refusals.get(address.lower())
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            if self._failures_left > 0:
                self._failures_left -= 1
                return self._failure_reply
            self._messages.append(_received(envelope))
        return "250 Message accepted for delivery"


def _received(envelope: Envelope) -> ReceivedMessage:
    content = envelope.original_content or envelope.content or b""
    raw = content.encode() if isinstance(content, str) else content
    parsed = email.message_from_bytes(raw, policy=default_policy)
    return ReceivedMessage(
        mail_from=envelope.mail_from or "",
        rcpt_tos=tuple(envelope.rcpt_tos),
        raw=raw,
        message=parsed,
    )


class _AnyPortController(Controller):
    """Listens on port 0 and learns the port the system gave it before it checks the server."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpServer:
    """A running local SMTP server: `host`, `port`, `handler` (messages, refusals)."""

    def __init__(
        self,
        *,
        credentials: tuple[str, str] | None = None,
        certificate: tuple[Path, Path] | None = None,
    ) -> None:
        self.handler = RecordingHandler()
        self.host = HOST
        self._credentials = credentials
        self._server_options = self._options(certificate)
        self._controller = self._new_controller(port=0)
        self._running = False

    def _new_controller(self, port: int) -> _AnyPortController:
        return _AnyPortController(self.handler, hostname=HOST, port=port, **self._server_options)

    def _options(self, certificate: tuple[Path, Path] | None) -> dict[str, Any]:
        options: dict[str, Any] = {"auth_require_tls": certificate is not None}
        if certificate is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*certificate)
            options |= {"tls_context": context, "require_starttls": True}
        if self._credentials is not None:
            options |= {"authenticator": self._authenticate, "auth_required": True}
        return options

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        given = (data.login.decode(), data.password.decode())
        return AuthResult(success=given == self._credentials, handled=False)

    @property
    def port(self) -> int:
        return int(self._controller.port)

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.handler.messages

    def start(self) -> SmtpServer:
        """Listen; after `stop`, again on the same port, keeping what it has received."""
        if not self._running:
            self._controller.start()
            self._running = True
        return self

    def stop(self) -> None:
        """Stop listening: a client now finds the port closed (connection refused)."""
        if self._running:
            self._controller.stop()
            self._running = False
            # a controller does not start twice: the next start is a fresh one's, same port
            self._controller = self._new_controller(port=self.port)

    def __enter__(self) -> SmtpServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A fresh local SMTP server for one test (no TLS, no login), stopped afterwards."""
    with SmtpServer() as server:
        yield server


@pytest.fixture
def make_smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """Starts `SmtpServer(**options)` servers for one test; all are stopped afterwards."""
    started: list[SmtpServer] = []

    def start(**options: Any) -> SmtpServer:
        started.append(SmtpServer(**options).start())
        return started[-1]

    yield start
    for server in started:
        server.stop()
