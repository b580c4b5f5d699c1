"""Settings: read from BACKROOM_* and .env; a wrong value stops start-up naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.settings import SettingsError, load_settings

pytestmark = pytest.mark.usefixtures("clean_env")  # tests/unit/conftest.py


def test_given_nothing_set_then_defaults_mean_embedded_servers() -> None:
    settings = load_settings()
    assert (settings.database_url, settings.broker_url, settings.result_backend) == (
        None,
        None,
        None,
    )
    assert settings.timezone == "UTC"
    assert settings.report_recipients == []


def test_given_variables_then_they_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKROOM_DATABASE_URL", "postgresql://shop@db:5432/shop")
    monkeypatch.setenv("BACKROOM_BROKER_URL", "amqp://guest:guest@mq:5672//")
    monkeypatch.setenv("BACKROOM_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("BACKROOM_SMTP_PORT", "587")
    monkeypatch.setenv("BACKROOM_SMTP_TLS", "true")
    monkeypatch.setenv("BACKROOM_REPORT_RECIPIENTS", "ceo@example.com, ops@example.com")
    settings = load_settings()
    assert settings.database_url == "postgresql://shop@db:5432/shop"
    assert settings.broker_url == "amqp://guest:guest@mq:5672//"
    assert settings.zone.key == "Europe/Berlin"
    assert (settings.smtp_port, settings.smtp_tls) == (587, True)
    assert settings.report_recipients == ["ceo@example.com", "ops@example.com"]


def test_given_dotenv_file_then_it_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BACKROOM_SMTP_HOST=mail.shop.test\nBACKROOM_SMTP_PORT=2525\n")
    settings = load_settings()
    assert (settings.smtp_host, settings.smtp_port) == ("mail.shop.test", 2525)


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("BACKROOM_SMTP_PORT", "abc", "BACKROOM_SMTP_PORT: Input should be a valid integer"),
        ("BACKROOM_SMTP_PORT", "70000", "BACKROOM_SMTP_PORT: Input should be less than or equal"),
        ("BACKROOM_TIMEZONE", "Mars/Olympus", "BACKROOM_TIMEZONE: unknown time zone"),
        ("BACKROOM_DATABASE_URL", "mysql://db/shop", "BACKROOM_DATABASE_URL: URL scheme must be"),
        ("BACKROOM_BROKER_URL", "kafka://mq", "BACKROOM_BROKER_URL: URL scheme must be"),
        ("BACKROOM_SMTP_TLS", "maybe", "BACKROOM_SMTP_TLS: Input should be a valid boolean"),
        ("BACKROOM_SMTP_FROM", "not-an-address", "BACKROOM_SMTP_FROM: value is not a valid email"),
        (
            "BACKROOM_REPORT_RECIPIENTS",
            "a@example.com,nope",
            "BACKROOM_REPORT_RECIPIENTS: value is",
        ),
    ],
)
def test_given_wrong_value_then_one_line_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(expected)
    assert "\n" not in message


def test_given_secrets_then_they_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BACKROOM_SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("BACKROOM_FLOWER_PASSWORD", "s3cret")
    settings = load_settings()
    assert "hunter2" not in repr(settings)
    assert "s3cret" not in repr(settings)
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "hunter2"


def test_given_bad_url_with_password_then_error_hides_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BACKROOM_DATABASE_URL", "mysql://shop:hunter2@db/shop")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)
    assert "shop:***@db" in str(caught.value)
