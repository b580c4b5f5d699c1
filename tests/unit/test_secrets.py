"""Payment tokens at rest: sealing (round trip, key rotation, a wrong key), fingerprints and
redaction, the settings and key file that give the keys, and how a worker's request shows
a task's arguments."""

from __future__ import annotations

import hashlib
import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from celery.contrib.testing.mocks import TaskMessage

from backroom_client import redacted as client_redacted
from domain import secrets
from domain.secrets import (
    MAX_DEPTH,
    TOO_DEEP,
    Sealer,
    SecretKeyError,
    SecretUnreadable,
    clear_tokens,
    fingerprint,
    redact_tokens,
    redacted,
    seal_tokens,
)
from workers.runtime import KEY_FILE, sealer
from workers.settings import SettingsError, load_settings

TOKEN = "tok_ok_3c1f9e77a2"
PRINT = hashlib.sha256(TOKEN.encode()).hexdigest()


pytestmark = pytest.mark.usefixtures("clean_env")  # tests/unit/conftest.py


# --- sealing ---------------------------------------------------------------------------------


def test_given_a_token_when_sealed_then_the_sealed_text_hides_it_and_opens_to_it() -> None:
    box = Sealer([secrets.new_key()])

    sealed = box.seal(TOKEN)

    assert TOKEN not in sealed
    assert PRINT[:16] not in sealed
    assert box.open(sealed) == TOKEN
    assert box.seal(TOKEN) != sealed  # a fresh nonce each time: equal tokens do not show


def test_given_a_new_key_first_when_rotating_then_old_seals_open_and_the_new_key_seals() -> None:
    old, new = secrets.new_key(), secrets.new_key()
    before = Sealer([old]).seal(TOKEN)
    rotated = Sealer([new, old])

    after = rotated.seal(TOKEN)

    assert rotated.open(before) == TOKEN
    assert Sealer([new]).open(after) == TOKEN  # sealed with the first key
    with pytest.raises(SecretUnreadable):
        Sealer([old]).open(after)


def test_given_another_key_when_opening_then_a_clear_error_says_the_key_is_missing() -> None:
    sealed = Sealer([secrets.new_key()]).seal(TOKEN)

    with pytest.raises(SecretUnreadable, match="not among the secret keys") as raised:
        Sealer([secrets.new_key()]).open(sealed)

    assert "BACKROOM_SECRET_KEYS" in str(raised.value)


def test_given_an_altered_sealed_token_when_opening_then_refused() -> None:
    box = Sealer([secrets.new_key()])
    sealed = box.seal(TOKEN)
    altered = sealed[:-6] + ("A" if sealed[-6] != "A" else "B") + sealed[-5:]

    with pytest.raises(SecretUnreadable):
        box.open(altered)


def test_given_a_bad_key_then_the_error_names_which_one_and_never_shows_it() -> None:
    bad = "not-a-fernet-key-but-a-secret-all-the-same"

    with pytest.raises(SecretKeyError, match="secret key 2 of 2 is not a Fernet key") as raised:
        Sealer([secrets.new_key(), bad])

    assert bad not in str(raised.value)
    with pytest.raises(SecretKeyError, match="no secret key"):
        Sealer([])


def test_given_a_sealer_then_its_repr_shows_no_key() -> None:
    key = secrets.new_key()

    assert key not in repr(Sealer([key]))
    assert repr(Sealer([key, secrets.new_key()])) == "Sealer(2 keys)"


# --- fingerprints and redaction ----------------------------------------------------------------


def test_given_a_token_then_its_fingerprint_is_a_sha256_prefix_and_redaction_shows_it() -> None:
    assert secrets.fingerprint(TOKEN) == PRINT[:16]
    assert secrets.redacted(TOKEN) == f"tok_…(fingerprint {PRINT[:8]})"
    assert secrets.redacted("4242424242424242").startswith("…(fingerprint ")


def test_given_a_payment_then_its_details_keep_the_fingerprint_and_the_token_sealed() -> None:
    box = Sealer([secrets.new_key()])

    details = secrets.payment_details(TOKEN, box)

    assert details[secrets.FINGERPRINT] == PRINT[:16]
    assert box.open(details[secrets.SEALED_TOKEN]) == TOKEN
    assert TOKEN not in str(details)


def _letter() -> dict[str, Any]:
    return {
        "args": [{"token": "tok_visa_9911"}],
        "kwargs": {
            "idempotency_key": "cart-1",
            "payment_token": TOKEN,
            "shipping_address": {"name": "Ada", "meta": [{"payment_token": "pm_card_77"}]},
            "quantity": 3,
        },
    }


def test_given_a_payload_when_sealed_then_every_token_at_any_depth_is_sealed_and_opens_back() -> (
    None
):
    box = Sealer([secrets.new_key()])
    payload = _letter()

    sealed = secrets.seal_tokens(payload, box)

    text = str(sealed)
    assert all(token not in text for token in (TOKEN, "tok_visa_9911", "pm_card_77"))
    assert sealed["kwargs"]["idempotency_key"] == "cart-1"  # other fields as they were
    assert sealed["kwargs"]["quantity"] == 3
    assert len(secrets.envelopes(sealed)) == 3
    assert secrets.seal_tokens(sealed, box) == sealed  # sealing twice changes nothing
    assert secrets.open_tokens(sealed, box) == payload


def test_given_a_sealed_payload_when_redacted_then_tokens_show_as_prefix_and_fingerprint() -> None:
    sealed = secrets.seal_tokens(_letter(), Sealer([secrets.new_key()]))

    shown = secrets.redact_tokens(sealed)

    assert shown["kwargs"]["payment_token"] == f"tok_…(fingerprint {PRINT[:8]})"
    assert shown["args"][0]["token"].startswith("tok_…(fingerprint ")
    assert shown["kwargs"]["shipping_address"]["meta"][0]["payment_token"].startswith("pm_…")
    assert secrets.redact_tokens(_letter()) == shown  # tokens in clear are shown the same way


def test_given_no_sealer_when_sealing_then_tokens_are_only_redacted_and_cannot_be_replayed() -> (
    None
):
    redacted_only = secrets.seal_tokens(_letter(), None)

    assert TOKEN not in str(redacted_only)
    assert secrets.redact_tokens(redacted_only)["kwargs"]["payment_token"].endswith(PRINT[:8] + ")")
    with pytest.raises(SecretUnreadable, match="redacted, not sealed"):
        secrets.open_tokens(redacted_only, Sealer([secrets.new_key()]))


def test_given_the_python_client_then_it_redacts_as_the_worker_does() -> None:
    assert client_redacted(_letter()["kwargs"]) == secrets.redact_tokens(_letter()["kwargs"])


# --- the keys: settings and the key file --------------------------------------------------------


def test_given_secret_keys_set_then_read_as_secrets_and_the_first_seals(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    first, second = secrets.new_key(), secrets.new_key()
    monkeypatch.setenv("BACKROOM_SECRET_KEYS", f" {first} , {second} ")

    settings = load_settings()

    assert [key.get_secret_value() for key in settings.secret_keys] == [first, second]
    assert first not in repr(settings)
    assert Sealer([first]).open(sealer(settings).seal(TOKEN)) == TOKEN
    assert not (tmp_path / ".backroom" / KEY_FILE).exists()


def test_given_a_bad_secret_key_then_start_up_names_the_variable_and_hides_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bad = "hunter2-is-no-fernet-key"
    monkeypatch.setenv("BACKROOM_SECRET_KEYS", f"{secrets.new_key()},{bad}")

    with pytest.raises(SettingsError) as raised:
        load_settings()

    message = str(raised.value)
    assert message.startswith("BACKROOM_SECRET_KEYS: secret key 2 of 2 is not a Fernet key")
    assert bad not in message


def test_given_no_secret_keys_then_a_key_is_made_once_in_the_data_dir_private_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("BACKROOM_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()

    with caplog.at_level(logging.WARNING, logger="backroom.secrets"):
        made = sealer(settings)
        again = sealer(settings)

    path = tmp_path / "data" / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert again.open(made.seal(TOKEN)) == TOKEN  # the same key, read back
    assert Sealer([path.read_text().strip()]).open(made.seal(TOKEN)) == TOKEN
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Production must set BACKROOM_SECRET_KEYS" in warnings[0]
    assert sorted(p.name for p in path.parent.iterdir()) == [KEY_FILE]  # no draft left


def test_given_a_damaged_key_file_then_the_error_names_the_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / KEY_FILE).write_text("damaged\n")
    monkeypatch.setenv("BACKROOM_DATA_DIR", str(tmp_path))

    with pytest.raises(SecretKeyError, match=f"{KEY_FILE}: the secret key is not a Fernet key"):
        sealer(load_settings())


# --- how a worker shows a task's arguments -------------------------------------------------------


def _request(kwargs: dict[str, Any], kwargsrepr: str | None = None) -> Any:
    from tasks.orders import place
    from workers.request import BackroomRequest

    headers = {} if kwargsrepr is None else {"kwargsrepr": kwargsrepr, "argsrepr": "()"}
    message = TaskMessage(place.name, kwargs=kwargs, **headers)
    return BackroomRequest(message, app=place.app, task=place)


def test_given_a_sender_that_shows_the_token_then_the_worker_shows_it_redacted() -> None:
    kwargs = {"idempotency_key": "cart-1", "payment_token": TOKEN}

    request = _request(kwargs, kwargsrepr=repr(kwargs))  # a careless client

    assert TOKEN not in request.kwargsrepr
    assert f"fingerprint {PRINT[:8]}" in request.kwargsrepr
    info = request.info()  # what `celery inspect active|reserved` and Flower's worker page get
    assert TOKEN not in str(info)
    assert info["kwargs"] == request.kwargsrepr
    assert request.kwargs["payment_token"] == TOKEN  # the task itself still gets the token


def test_given_arguments_without_a_token_then_the_senders_repr_is_kept() -> None:
    request = _request({"order_id": "42"}, kwargsrepr="{'order_id': '42'}")

    assert request.kwargsrepr == "{'order_id': '42'}"


def test_given_arguments_nested_deeper_than_searched_then_shown_cut_and_no_token_leaks() -> None:
    deep: Any = {"payment_token": "tok_deep_secret"}
    for _ in range(2 * MAX_DEPTH):
        deep = {"x": [deep]}

    found = clear_tokens(deep)
    shown = redact_tokens(deep)
    sealed = seal_tokens(deep, None)

    assert found == [TOO_DEEP]  # it may hold a token: the arguments are shown redacted
    assert "tok_deep_secret" not in repr(shown)
    assert "tok_deep_secret" not in repr(sealed)
    assert TOO_DEEP in repr(shown)


def test_given_a_token_with_a_lone_surrogate_then_fingerprinted_and_redacted_without_error() -> (
    None
):
    token = "tok_\ud800x"

    assert len(fingerprint(token)) == 16
    assert redacted(token).startswith("tok_…(fingerprint ")
    assert client_redacted({"payment_token": token})["payment_token"] == redacted(token)
