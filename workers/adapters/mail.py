"""Mail adapters behind the domain's `Mailer` port.

`SmtpMailer` talks SMTP with the standard library, one connection per message (simple, and a
worker never holds a stale connection). Its failures become the port's two errors by SMTP
reply code: 5xx means `MailRejected` (for good), 4xx, timeouts and connection errors mean
`MailUnavailable` (try again). `FileMailer` is the simulated provider of the demo: each message
becomes an `.eml` file named by its message id, so sending it again replaces it.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import smtplib
import ssl
import uuid
from datetime import UTC, datetime
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from hashlib import sha256
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from domain.ports import Attachment, Email, Mailer, MailRejected, MailUnavailable
from workers.compat import FlatHeaderCompat32

if TYPE_CHECKING:
    from workers.settings import Settings

DEFAULT_SENDER = "backroom@localhost.localdomain"
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._@+-]")
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP  # readable bodies (the default for UTF-8 is base64)
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_MEDIA_TYPE = re.compile(r"([a-z0-9][a-z0-9!#$&^_.+-]{0,126})/([a-z0-9][a-z0-9!#$&^_.+-]{0,126})")
MAX_FILENAME_BYTES = 255  # what most file systems take; keeps the header line short enough


# Every header this module sets is ASCII (non-ASCII values are RFC 2047 encoded) and free of
# line breaks: compat32, with such headers written as they are when they fit on one line.
POLICY = FlatHeaderCompat32()


def build_message(email: Email, sender: str) -> Message:
    """The MIME message for `email`: text, plus an HTML alternative when there is one; with
    attachments, that body is the first part of a `multipart/mixed` and each file a part after
    it (base64, `Content-Disposition: attachment`).

    Built with the `compat32` classes (much cheaper per message than the default policy), so
    headers are checked here: a line break in any header value (a way to inject `Bcc:`)
    raises `MailRejected`, and non-ASCII values are RFC 2047 encoded. So are attachments: a
    file name that is empty, longer than `MAX_FILENAME_BYTES` in UTF-8, or has a line break,
    another control character or a path separator (`/`, `\\`), or a content type that is not
    a bare `type/subtype`, raises `MailRejected` naming the attachment.
    """
    try:
        return _build(email, sender)
    except ValueError as error:
        raise MailRejected(f"cannot build the message to {email.to!r}: {error}") from error


def _build(email: Email, sender: str) -> Message:
    files = [_attachment_part(file, number) for number, file in enumerate(email.attachments, 1)]
    text = _text_part(email.text, "plain")
    message: Message = text
    if email.html is not None:
        # "=_" never occurs in quoted-printable text (nor in base64), so the boundary needs no
        # search of the bodies (the generator's own boundary compiles a regular expression per
        # message).
        message = MIMEMultipart("alternative", boundary=_boundary(), policy=POLICY)
        message.attach(text)
        message.attach(_text_part(email.html, "html"))
    if files:
        body, message = message, MIMEMultipart("mixed", boundary=_boundary(), policy=POLICY)
        message.attach(body)
        for part in files:
            message.attach(part)
    name, address = parseaddr(sender)
    headers = {
        "From": formataddr((name, address or sender), "utf-8"),
        "To": email.to,
        "Subject": email.subject,
        "Date": format_datetime(datetime.now(UTC)),
        "Message-ID": message_id_header(email.message_id, sender),
        **email.headers,  # the caller's own headers win over these
    }
    for header, value in headers.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"line break in the {header} header")
        message[header] = value if value.isascii() else Header(value, "utf-8").encode()
    return message


def _boundary() -> str:
    return f"=_{uuid.uuid4().hex}"


def _text_part(body: str, subtype: str) -> MIMENonMultipart:
    part = MIMENonMultipart("text", subtype, policy=POLICY)
    part.set_payload(body, _UTF8)
    return part


def _attachment_part(file: Attachment, number: int) -> MIMENonMultipart:
    """The part for attachment `number` (from 1): its bytes in base64, a text/* one declared
    UTF-8; a non-ASCII file name is RFC 2231 encoded (`filename*=utf-8''...`)."""
    shown = file.filename if len(file.filename) <= 60 else f"{file.filename[:57]}..."
    problem = _filename_problem(file.filename)
    if problem is not None:
        raise ValueError(f"{problem} of attachment {number} ({shown!r})")
    media_type = _MEDIA_TYPE.fullmatch(file.content_type.lower())
    if media_type is None:
        raise ValueError(f"bad content type {file.content_type!r} of attachment {number}")
    maintype, subtype = media_type.groups()
    params = {"charset": "utf-8"} if maintype == "text" else {}
    part = MIMENonMultipart(maintype, subtype, policy=POLICY, **params)
    part["Content-Transfer-Encoding"] = "base64"
    part.add_header("Content-Disposition", "attachment", filename=file.filename)
    part.set_payload(base64.encodebytes(file.data).decode("ascii"))
    return part


def _filename_problem(filename: str) -> str | None:
    """What is wrong with `filename` as an attachment's name, or None."""
    if not filename.strip():
        return "empty file name"
    if "\r" in filename or "\n" in filename:
        return "line break in the file name"
    if _CONTROL_CHARS.search(filename):
        return "control character in the file name"
    if "/" in filename or "\\" in filename:
        return "path separator in the file name"
    if len(filename.encode()) > MAX_FILENAME_BYTES:
        return f"file name longer than {MAX_FILENAME_BYTES} bytes"
    return None


def message_id_header(message_id: str | None, sender: str) -> str:
    """`abc@host` -> `<abc@host>`; `abc` -> `<abc@sender's domain>`; None -> a fresh one."""
    domain = address_of(sender).rpartition("@")[2] or "localhost"
    if message_id is None:
        return make_msgid(domain=domain)
    bare = message_id.strip().strip("<>")
    return f"<{bare}>" if "@" in bare else f"<{bare}@{domain}>"


def address_of(sender: str) -> str:
    """`Shop <shop@example.com>` -> `shop@example.com` (the SMTP envelope wants the bare one)."""
    return parseaddr(sender)[1] or sender


class SmtpMailer:
    """Sends each message over a fresh SMTP connection (STARTTLS and login when configured)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: SecretStr | None = None,
        sender: str,
        starttls: bool = False,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout
        self._tls_context = tls_context

    def __repr__(self) -> str:
        return f"SmtpMailer({self.host!r}, {self.port}, sender={self.sender!r})"

    def send(self, email: Email) -> None:
        message = build_message(email, self.sender)
        try:
            refused = self._deliver(message, email.to)
        except (smtplib.SMTPException, OSError) as error:
            raise self._failure(error, email.to) from error
        if refused:
            raise self._failure(smtplib.SMTPRecipientsRefused(refused), email.to)

    def _deliver(self, message: Message, to: str) -> dict[str, tuple[int, bytes]]:
        smtp = smtplib.SMTP(self.host, self.port, timeout=self._timeout)
        try:
            self._open_session(smtp)
            return smtp.send_message(message, from_addr=address_of(self.sender), to_addrs=[to])
        finally:
            _close_quietly(smtp)

    def _open_session(self, smtp: smtplib.SMTP) -> None:
        if self._starttls:
            smtp.starttls(context=self._tls_context or ssl.create_default_context())
        if self._username is not None:
            secret = self._password.get_secret_value() if self._password else ""
            smtp.login(self._username, secret)

    def _failure(self, error: Exception, to: str) -> MailRejected | MailUnavailable:
        server = f"mail server {self.host}:{self.port}"
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            replies = list(error.recipients.values())
            codes = [code for code, _ in replies]
            detail = "; ".join(_reply(code, text) for code, text in replies)
            return _by_code(min(codes, default=550), f"{server} refused {to!r}: {detail}")
        if isinstance(error, smtplib.SMTPResponseException):
            reply = _reply(error.smtp_code, error.smtp_error)
            return _by_code(error.smtp_code, f"{server} refused the message to {to!r}: {reply}")
        if isinstance(error, smtplib.SMTPNotSupportedError):
            return MailRejected(f"{server} cannot do what the mailer needs: {error}")
        return MailUnavailable(f"{server} is unreachable: {error or type(error).__name__}")


def _by_code(code: int, message: str) -> MailRejected | MailUnavailable:
    """5xx is for good; 4xx (and anything odd, like -1 for a garbled reply) may pass."""
    return MailRejected(message) if 500 <= code < 600 else MailUnavailable(message)


def _reply(code: int, text: bytes | str) -> str:
    shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {shown}".strip()


def _close_quietly(smtp: smtplib.SMTP) -> None:
    """Say QUIT and close without waiting for the server's goodbye: a message the server
    accepted (its 250) is sent whatever happens on the way out, and the caller, which records
    the email sent as soon as `send` returns, is not kept a round trip longer in the window
    where a crash sends it again."""
    with contextlib.suppress(smtplib.SMTPException, OSError):  # the connection may be gone
        smtp.send("QUIT\r\n")
    smtp.close()


class FileMailer:
    """The demo's simulated provider: `folder/<message id>.eml`, one file per message id."""

    def __init__(self, folder: Path, *, sender: str = DEFAULT_SENDER) -> None:
        self.folder = Path(folder)
        self.sender = sender

    def __repr__(self) -> str:
        return f"FileMailer({str(self.folder)!r})"

    def send(self, email: Email) -> None:
        message = build_message(email, self.sender)
        message_id = email.message_id or str(message["Message-ID"]).strip("<>")
        path = self.path_for(message_id)
        try:
            _write_atomically(path, message.as_bytes())
        except OSError as error:
            raise MailUnavailable(f"cannot write {path}: {error}") from error

    def path_for(self, message_id: str) -> Path:
        """Where the message with `message_id` is (or would be) written."""
        return self.folder / f"{_file_stem(message_id)}.eml"


def _file_stem(message_id: str) -> str:
    """The id itself when it is a safe file name; else a cleaned one plus a hash of the id."""
    bare = message_id.strip().strip("<>")
    safe = _UNSAFE_FILE_CHARS.sub("_", bare)[:150].lstrip(".")
    if safe == bare and safe:
        return safe
    return f"{safe}-{sha256(bare.encode()).hexdigest()[:12]}"


def _write_atomically(path: Path, content: bytes) -> None:
    """Readers see the old file or the new one, never half of one."""
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        try:
            temporary.write_bytes(content)
        except FileNotFoundError:  # the first message (or the folder was removed)
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_bytes(content)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def smtp_mailer_from_settings(settings: Settings) -> SmtpMailer:
    """The SMTP mailer the `BACKROOM_SMTP_*` settings describe."""
    return SmtpMailer(
        settings.smtp_host,
        settings.smtp_port,
        username=settings.smtp_user,
        password=settings.smtp_password,
        sender=settings.smtp_from,
        starttls=settings.smtp_tls,
    )


def from_settings(settings: Settings, *, simulate: bool, outbox: Path) -> Mailer:
    """The simulated provider writing to `outbox` if `simulate`, else real SMTP."""
    if simulate:
        return FileMailer(outbox, sender=settings.smtp_from)
    return smtp_mailer_from_settings(settings)
