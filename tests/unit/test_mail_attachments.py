"""`build_message` with attachments: the MIME it writes, the names and types it refuses, and
the message without attachments staying byte for byte what it was."""

from __future__ import annotations

import types
import uuid
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import compat32, default

import pytest

from domain.ports import Attachment, Email, MailRejected
from workers.adapters import mail
from workers.adapters.mail import MAX_FILENAME_BYTES, build_message

SENDER = "Boutique Été <shop@example.com>"
DATE = "Fri, 27 Nov 2026 09:00:00 +0000"


def report(*attachments: Attachment, html: str | None = "<p>Été =_ --</p>") -> Email:
    return Email(
        to="manager@example.com",
        subject="Rapport expédié",
        text="Bonjour, 12,50 €\n",
        html=html,
        message_id="n-1",
        headers={"Date": DATE, "X-Backroom-Kind": "nightly_report"},
        attachments=attachments,
    )


def parsed(email: Email) -> EmailMessage:
    message = message_from_bytes(build_message(email, SENDER).as_bytes(), policy=default)
    assert isinstance(message, EmailMessage)
    return message


HEADERS = (
    b"From: =?utf-8?b?Qm91dGlxdWUgw4l0w6k=?= <shop@example.com>\n"
    b"To: manager@example.com\n"
    b"Subject: =?utf-8?b?UmFwcG9ydCBleHDDqWRpw6k=?=\n"
    b"Date: Fri, 27 Nov 2026 09:00:00 +0000\n"
    b"Message-ID: <n-1@example.com>\n"
    b"X-Backroom-Kind: nightly_report\n"
)
TEXT_PART_HEADERS = (
    b'MIME-Version: 1.0\nContent-Type: text/plain; charset="utf-8"\n'
    b"Content-Transfer-Encoding: quoted-printable\n"
)


def test_given_no_attachments_then_the_bytes_are_those_written_before_attachments_existed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the module wrote them before attachments (same fixed boundary, date and id)."""
    monkeypatch.setattr(mail, "uuid", types.SimpleNamespace(uuid4=lambda: uuid.UUID(int=0xABC)))

    assert build_message(report(html=None), SENDER).as_bytes() == (
        TEXT_PART_HEADERS + HEADERS + b"\nBonjour, 12,50 =E2=82=AC\n"
    )
    assert build_message(report(), SENDER).as_bytes() == (
        b'Content-Type: multipart/alternative;\n boundary="=_00000000000000000000000000000abc"\n'
        b"MIME-Version: 1.0\n" + HEADERS + b"\n"
        b"--=_00000000000000000000000000000abc\n" + TEXT_PART_HEADERS + b"\n"
        b"Bonjour, 12,50 =E2=82=AC\n"
        b"\n"
        b"--=_00000000000000000000000000000abc\n"
        b"MIME-Version: 1.0\n"
        b'Content-Type: text/html; charset="utf-8"\n'
        b"Content-Transfer-Encoding: quoted-printable\n"
        b"\n"
        b"<p>=C3=89t=C3=A9 =3D_ --</p>\n"
        b"--=_00000000000000000000000000000abc--\n"
    )


def test_given_a_text_body_and_a_file_then_the_text_is_the_first_part_of_a_mixed() -> None:
    message = parsed(report(Attachment("a.csv", "text/csv", b"a\r\n"), html=None))

    assert [part.get_content_type() for part in message.walk()] == [
        "multipart/mixed",
        "text/plain",
        "text/csv",
    ]
    body = message.get_body(("plain",))
    assert body is not None
    assert body.get_content() == "Bonjour, 12,50 €\n"
    [file] = message.iter_attachments()
    assert file.get_payload(decode=True) == b"a\r\n"


ODD_NAMES = [
    'q"uo;te=d, [1].csv',
    "a b " * 40 + ".csv",  # folded inside its quotes
    "Übersicht März " * 5 + ".csv",
    "é" * (MAX_FILENAME_BYTES // 2),  # the longest non-ASCII name taken
    "x" * MAX_FILENAME_BYTES,
]


@pytest.mark.parametrize("filename", ODD_NAMES)
def test_given_an_odd_file_name_then_it_comes_back_whole_on_lines_smtp_takes(
    filename: str,
) -> None:
    email = report(Attachment(filename, "text/plain", "ü\n".encode()))
    raw = build_message(email, SENDER).as_bytes()

    [file] = parsed(email).iter_attachments()
    assert file.get_filename() == filename
    assert file.get_payload(decode=True) == "ü\n".encode()
    assert max(len(line) for line in raw.splitlines()) <= 998


@pytest.mark.parametrize("count", [1, 3])
def test_given_attachments_then_the_bytes_are_those_of_the_stdlib_compat32_policy(
    count: int,
) -> None:
    files = [Attachment(name, "text/csv", b"a,b\r\n") for name in ODD_NAMES[:count]]
    message = build_message(report(*files), SENDER)

    raw = message.as_bytes()
    assert raw == message.as_bytes(policy=compat32)
    # the alternative's 2 parts and its end, then the mixed's body, each file and its end
    assert raw.count(b"\n--=_") == 3 + 1 + count + 1


def test_given_content_types_then_text_is_declared_utf8_and_the_rest_as_given() -> None:
    message = parsed(
        report(
            Attachment("a.csv", "TEXT/CSV", b"a"),
            Attachment("a.pdf", "application/pdf", b"%PDF"),
            Attachment("a.svg", "image/svg+xml", b"<svg/>"),
            Attachment("empty.bin", "application/octet-stream", b""),
        )
    )

    assert [str(file["Content-Type"]) for file in message.iter_attachments()] == [
        'text/csv; charset="utf-8"',
        "application/pdf",
        "image/svg+xml",
        "application/octet-stream",
    ]
    assert [file.get_payload(decode=True) for file in message.iter_attachments()] == [
        b"a",
        b"%PDF",
        b"<svg/>",
        b"",
    ]


@pytest.mark.parametrize(
    ("filename", "refusal"),
    [
        ("", "empty file name of attachment 2 ('')"),
        ("\t ", "empty file name of attachment 2 ('\\t ')"),
        ("a\rb.csv", "line break in the file name of attachment 2 ('a\\rb.csv')"),
        ("a\x00b.csv", "control character in the file name of attachment 2 ('a\\x00b.csv')"),
        ("/tmp/a.csv", "path separator in the file name of attachment 2 ('/tmp/a.csv')"),
        ("..\\a.csv", "path separator in the file name of attachment 2 ('..\\\\a.csv')"),
        (
            "é" * 128,
            f"file name longer than 255 bytes of attachment 2 ('{'é' * 57}...')",
        ),
    ],
)
def test_given_a_bad_file_name_then_the_message_is_refused_naming_it(
    filename: str, refusal: str
) -> None:
    email = report(Attachment("ok.csv", "text/csv", b""), Attachment(filename, "text/csv", b""))
    with pytest.raises(MailRejected) as refused:
        build_message(email, SENDER)
    assert str(refused.value) == f"cannot build the message to 'manager@example.com': {refusal}"


@pytest.mark.parametrize(
    "content_type",
    ["csv", "text/", "text/csv; charset=latin-1", "text/csv\r\nBcc: all@example.com", ""],
)
def test_given_a_bad_content_type_then_the_message_is_refused_naming_it(
    content_type: str,
) -> None:
    with pytest.raises(MailRejected, match=r"bad content type .* of attachment 1$"):
        build_message(report(Attachment("a.csv", content_type, b"")), SENDER)
