"""Mail adapters: a real SMTP conversation with a local aiosmtpd server, and the file outbox."""

from __future__ import annotations

import socket
import ssl
import subprocess
from collections.abc import Callable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import compat32, default
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pydantic import SecretStr

from domain.notifications import Kind, render
from domain.ports import Attachment, Email, MailRejected, MailUnavailable
from workers.adapters.mail import (
    FileMailer,
    SmtpMailer,
    build_message,
    from_settings,
    smtp_mailer_from_settings,
)
from workers.settings import load_settings

if TYPE_CHECKING:
    from tests.smtp_server import SmtpServer


SENDER = "Shop <shop@example.com>"
ORDER = "ORD-20261127-ABC123"


def confirmation(to: str = "ada@example.com", message_id: str = f"{ORDER}.confirmed") -> Email:
    context = {
        "order_number": ORDER,
        "customer_name": "Ada",
        "currency": "EUR",
        "total_amount": 123400,
        "lines": [{"sku": "LAMP-1", "name": "Lamp", "quantity": 1, "unit_price": 123400,
                   "total_price": 123400}],
        "shipping_address": {"name": "Ada", "line1": "1 Rue", "city": "Paris",
                             "postal_code": "75001", "country": "FR"},
    }  # fmt: skip
    return render(Kind.ORDER_CONFIRMED, context, to=to, message_id=message_id)


def mailer_for(server: SmtpServer, **options: object) -> SmtpMailer:
    return SmtpMailer(server.host, server.port, sender=SENDER, timeout=5.0, **options)  # type: ignore[arg-type]


def test_given_a_server_when_sending_then_the_message_arrives_whole(
    smtp_server: SmtpServer,
) -> None:
    mailer_for(smtp_server).send(confirmation())

    [received] = smtp_server.messages
    message = received.message
    assert (received.mail_from, received.rcpt_tos) == ("shop@example.com", ("ada@example.com",))
    assert message["From"] == SENDER
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == f"Your order {ORDER} is confirmed"
    assert message["Message-ID"] == f"<{ORDER}.confirmed@example.com>"
    assert message["X-Backroom-Kind"] == "order_confirmed"
    assert message["Date"] is not None
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert "1,234.00 EUR" in text.get_content()
    assert "<strong>ORD-20261127-ABC123</strong>" in html.get_content()


def test_given_a_full_message_id_then_it_is_kept_as_is(smtp_server: SmtpServer) -> None:
    mailer_for(smtp_server).send(confirmation(message_id="n-42@backroom.example"))
    assert smtp_server.messages[0].message["Message-ID"] == "<n-42@backroom.example>"


def test_given_a_refused_recipient_then_the_mail_is_rejected(smtp_server: SmtpServer) -> None:
    smtp_server.handler.reject_recipient("nobody@example.com")
    with pytest.raises(MailRejected, match="550"):
        mailer_for(smtp_server).send(confirmation(to="nobody@example.com"))
    assert smtp_server.messages == []


def test_given_a_recipient_refused_for_now_then_the_mail_is_unavailable(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.handler.reject_recipient("busy@example.com", "450 4.2.1 Mailbox busy")
    with pytest.raises(MailUnavailable, match="450"):
        mailer_for(smtp_server).send(confirmation(to="busy@example.com"))


def test_given_a_temporary_failure_then_unavailable_and_a_retry_delivers(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.handler.fail_next(1)
    mailer = mailer_for(smtp_server)
    with pytest.raises(MailUnavailable, match="451"):
        mailer.send(confirmation())
    mailer.send(confirmation())
    assert len(smtp_server.messages) == 1


def test_given_no_server_on_the_port_then_the_mail_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailer = SmtpMailer("127.0.0.1", port, sender=SENDER, timeout=2.0)
    with pytest.raises(MailUnavailable, match="unreachable"):
        mailer.send(confirmation())


def test_given_a_server_that_never_answers_then_the_mail_is_unavailable() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        mailer = SmtpMailer("127.0.0.1", silent.getsockname()[1], sender=SENDER, timeout=0.3)
        with pytest.raises(MailUnavailable, match="timed out"):
            mailer.send(confirmation())


def test_given_a_line_break_in_the_subject_then_nothing_is_sent(smtp_server: SmtpServer) -> None:
    email = Email(to="ada@example.com", subject="Hi\nBcc: all@example.com", text="x")
    with pytest.raises(MailRejected, match="cannot build"):
        mailer_for(smtp_server).send(email)
    assert smtp_server.messages == []


def test_given_non_ascii_names_and_text_then_they_arrive_intact(smtp_server: SmtpServer) -> None:
    email = Email(
        to="zoe@example.com",
        subject="Votre commande pour Zoë est expédiée",
        text="Bonjour Zoë, votre colis part aujourd'hui. 12,50 €",
        html="<p>Bonjour <strong>Zoë</strong></p>",
    )
    SmtpMailer(smtp_server.host, smtp_server.port, sender="Boutique Été <shop@example.com>").send(
        email
    )

    [received] = smtp_server.messages
    message = received.message
    assert received.mail_from == "shop@example.com"
    assert message["Subject"] == "Votre commande pour Zoë est expédiée"
    assert message["From"] == "Boutique Été <shop@example.com>"
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None
    assert "Bonjour Zoë" in text.get_content()
    assert text.get_content().rstrip().endswith("12,50 €")
    assert html is not None
    assert "<strong>Zoë</strong>" in html.get_content()


def test_given_a_line_break_in_any_header_then_nothing_is_sent(smtp_server: SmtpServer) -> None:
    email = Email(
        to="ada@example.com", subject="Hi", text="x", headers={"X-Note": "a\r\nBcc: b@x.org"}
    )
    with pytest.raises(MailRejected, match="line break in the X-Note header"):
        mailer_for(smtp_server).send(email)
    assert smtp_server.messages == []


def test_given_starttls_asked_of_a_plain_server_then_the_mail_is_rejected(
    smtp_server: SmtpServer,
) -> None:
    with pytest.raises(MailRejected, match="STARTTLS"):
        mailer_for(smtp_server, starttls=True).send(confirmation())


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def secure_server(
    make_smtp_server: Callable[..., SmtpServer], certificate: tuple[Path, Path]
) -> SmtpServer:
    """Wants STARTTLS, then the login shop / s3cret."""
    return make_smtp_server(credentials=("shop", "s3cret"), certificate=certificate)


def secure_mailer(server: SmtpServer, cert: Path, password: str) -> SmtpMailer:
    context = ssl.create_default_context(cafile=str(cert))
    return mailer_for(
        server, starttls=True, tls_context=context, username="shop", password=SecretStr(password)
    )


def test_given_tls_and_a_login_then_the_message_arrives(
    secure_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    secure_mailer(secure_server, certificate[0], "s3cret").send(confirmation())
    assert len(secure_server.messages) == 1


def test_given_a_wrong_password_then_the_mail_is_rejected_without_showing_it(
    secure_server: SmtpServer, certificate: tuple[Path, Path]
) -> None:
    with pytest.raises(MailRejected, match="535") as caught:
        secure_mailer(secure_server, certificate[0], "wrong-password").send(confirmation())
    assert "wrong-password" not in str(caught.value)
    assert secure_server.messages == []


def test_given_an_outbox_then_each_message_id_is_one_file(tmp_path: Path) -> None:
    mailer = FileMailer(tmp_path / "outbox", sender=SENDER)
    mailer.send(confirmation(message_id="m-1"))
    mailer.send(confirmation(message_id="m-2"))
    mailer.send(confirmation(message_id="m-1"))

    files = sorted(path.name for path in (tmp_path / "outbox").iterdir())
    assert files == ["m-1.eml", "m-2.eml"]
    written = mailer.path_for("m-1").read_text()
    assert "Subject: Your order ORD-20261127-ABC123 is confirmed" in written
    assert "Message-ID: <m-1@example.com>" in written


def test_given_an_odd_message_id_then_the_file_name_stays_in_the_outbox(tmp_path: Path) -> None:
    mailer = FileMailer(tmp_path)
    mailer.send(confirmation(message_id="../../etc/passwd"))
    [written] = list(tmp_path.iterdir())
    assert written.suffix == ".eml"
    assert written.parent == tmp_path


def test_given_settings_then_the_mailer_follows_them(tmp_path: Path) -> None:
    settings = load_settings(
        smtp_host="mail.example.com", smtp_port=587, smtp_user="shop", smtp_tls=True
    )
    smtp = smtp_mailer_from_settings(settings)
    assert (smtp.host, smtp.port, smtp.sender) == ("mail.example.com", 587, settings.smtp_from)
    assert isinstance(from_settings(settings, simulate=False, outbox=tmp_path), SmtpMailer)
    assert isinstance(from_settings(settings, simulate=True, outbox=tmp_path), FileMailer)


@pytest.mark.parametrize(
    "email",
    [
        Email(
            to="ada@example.com", subject="Your order BR-1 is confirmed", text="Hi\n", html="<p/>"
        ),
        Email(to="ada@example.com", subject="Shipped " + "word " * 30, text="A long subject\n"),
        Email(to="José <jose@example.com>", subject="Commande expédiée", text="Voilà\n", html="é"),
        Email(to="a" * 70 + "@example.com", subject="x", text="y\n", headers={"X-A": "b " * 60}),
    ],
    ids=["plain", "long-subject", "non-ascii", "long-headers"],
)
def test_given_a_message_then_its_bytes_are_those_of_the_stdlib_compat32_policy(
    email: Email,
) -> None:
    """The mail module writes short ASCII headers without compat32's folding machinery; what it
    writes must be byte for byte what compat32 writes (long or encoded values fold the same)."""
    message = build_message(email, "Shop <shop@example.com>")

    assert message.as_bytes() == message.as_bytes(policy=compat32)
    assert message.as_bytes().count(b"\n--=_") == (2 + 1 if email.html else 0)


def test_given_a_multipart_message_when_parsed_then_both_bodies_come_back() -> None:
    email = Email(to="ada@example.com", subject="s", text="=_ and -- in text\n", html="<b>=_</b>")
    parsed = message_from_bytes(build_message(email, "shop@example.com").as_bytes())

    bodies = [part.get_payload(decode=True) for part in parsed.walk() if not part.is_multipart()]
    assert bodies == [b"=_ and -- in text\n", b"<b>=_</b>"]


REPORT_FILES = (
    Attachment("top-products.csv", "text/csv", "sku,name,units\r\nLAMP-1,Lampe été,3\r\n".encode()),
    Attachment("low-stock.csv", "text/csv", b"sku,on_hand\r\nDESK-2,0\r\n"),
    Attachment("Rapport nocturne — été.html", "text/html", "<h1>Été</h1>\n".encode()),
    Attachment("chart.bin", "application/octet-stream", bytes(range(256)) * 3),
)


def nightly_report(*attachments: Attachment) -> Email:
    return Email(
        to="manager@example.com",
        subject="Nightly report",
        text="The nightly report is attached.\n",
        html="<p>The <b>nightly report</b> is attached.</p>",
        message_id="report-2026-11-27",
        attachments=attachments,
    )


def attachments_of(message: EmailMessage) -> list[tuple[str | None, str, str | None, bytes]]:
    """(file name, content type, charset, bytes) of each attachment, in order."""
    return [
        (part.get_filename(), part.get_content_type(), part.get_content_charset(),
         part.get_payload(decode=True))
        for part in message.iter_attachments()
    ]  # fmt: skip


EXPECTED_FILES = [
    (file.filename, file.content_type, "utf-8" if file.content_type.startswith("text/") else None,
     file.data)
    for file in REPORT_FILES
]  # fmt: skip


def test_given_attachments_when_sending_then_the_body_and_each_file_arrive_as_sent(
    smtp_server: SmtpServer,
) -> None:
    mailer_for(smtp_server).send(nightly_report(*REPORT_FILES))

    [received] = smtp_server.messages
    message = received.message
    assert message.get_content_type() == "multipart/mixed"
    body, *files = message.iter_parts()
    assert body.get_content_type() == "multipart/alternative"
    html = message.get_body(("html", "plain"))
    assert html is not None
    assert html.get_content() == "<p>The <b>nightly report</b> is attached.</p>"
    assert attachments_of(message) == EXPECTED_FILES
    assert [file.get_content_disposition() for file in files] == ["attachment"] * 4
    assert {file["Content-Transfer-Encoding"] for file in files} == {"base64"}
    assert b"filename*=utf-8''Rapport%20nocturne%20%E2%80%94%20%C3%A9t%C3%A9.html" in received.raw


def test_given_no_attachments_then_the_alternative_stays_at_the_top(
    smtp_server: SmtpServer,
) -> None:
    mailer_for(smtp_server).send(nightly_report())

    message = smtp_server.messages[0].message
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert list(message.iter_attachments()) == []


@pytest.mark.parametrize(
    ("filename", "problem"),
    [
        ("", "empty file name"),
        ("  ", "empty file name"),
        ("low-stock.csv\r\nBcc: all@example.com", "line break in the file name"),
        ("low\nstock.csv", "line break in the file name"),
        ("../low-stock.csv", "path separator in the file name"),
        ("reports\\low-stock.csv", "path separator in the file name"),
    ],
)
def test_given_a_bad_file_name_then_it_is_refused_before_any_connection(
    filename: str, problem: str
) -> None:
    email = nightly_report(REPORT_FILES[0], Attachment(filename, "text/csv", b"x"))
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        mailer = SmtpMailer("127.0.0.1", listener.getsockname()[1], sender=SENDER, timeout=0.3)

        with pytest.raises(MailRejected, match="cannot build") as refused:
            mailer.send(email)

        listener.setblocking(False)
        with pytest.raises(BlockingIOError):  # nobody knocked
            listener.accept()
    assert f"{problem} of attachment 2 ({filename!r})" in str(refused.value)


def test_given_attachments_and_an_outbox_then_the_eml_file_holds_them(tmp_path: Path) -> None:
    mailer = FileMailer(tmp_path, sender=SENDER)
    mailer.send(nightly_report(*REPORT_FILES))

    written = message_from_bytes(mailer.path_for("report-2026-11-27").read_bytes(), policy=default)
    assert isinstance(written, EmailMessage)
    assert written.get_content_type() == "multipart/mixed"
    assert attachments_of(written) == EXPECTED_FILES
