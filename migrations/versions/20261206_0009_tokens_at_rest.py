"""Payment tokens at rest: none left in clear in payments.details or dead_letters.payload

`payments.details` `{"token": ...}` becomes `{"token_fingerprint": <16 hex>}` (the first 16 hex
digits of the token's sha256), and a payment still pending also gets `token_sealed`: its
capture needs the token. In `dead_letters.payload`, every `payment_token` or `token` value, at
any depth, becomes its sealed envelope, which `backroom dead-letters replay` opens
(`domain.secrets`).

Sealing takes the key the workers use (`workers.runtime.sealer`: `BACKROOM_SECRET_KEYS`, else
`<data dir>/secret.key`, made if missing), and only when there is something to seal; settled
payments need no key, their token is dropped. When no key can be had (a data folder that
cannot be written, say) the migration stops, naming what it had to seal, and changes nothing:
set `BACKROOM_SECRET_KEYS` to the workers' keys and run it again. No token is dropped that a
pending payment or a dead letter still needs.

Downgrade puts back what the older code reads: each pending payment's token in clear, and the
dead letters' tokens opened. The tokens of settled payments are gone for good; no code reads
them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 18:30:00.000000
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from domain import secrets

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_FINGERPRINT_SQL = "left(encode(sha256(convert_to(details->>'token', 'UTF8')), 'hex'), 16)"
_SETTLED = sa.text(
    "UPDATE payments SET details = (details - 'token')"
    f" || jsonb_build_object('token_fingerprint', {_FINGERPRINT_SQL})"
    " WHERE details ? 'token' AND status <> 'pending'"
)
_PENDING = sa.text(
    "SELECT id, details->>'token' AS token FROM payments"
    " WHERE details ? 'token' AND status = 'pending'"
)
_SET_DETAILS = sa.text(
    "UPDATE payments SET details = (details - 'token' - 'token_sealed')"
    " || CAST(:extra AS jsonb) WHERE id = :id"
)
_SEALED = sa.text(
    "SELECT id, details->>'token_sealed' AS sealed FROM payments"
    " WHERE details ? 'token_sealed' AND status = 'pending'"
)
# Letters that may hold a token: their payload names a token key somewhere.
_LETTERS = sa.text(
    "SELECT id, payload FROM dead_letters"
    " WHERE strpos(CAST(payload AS text), '\"payment_token\"') > 0"
    " OR strpos(CAST(payload AS text), '\"token\"') > 0"
)
_SET_PAYLOAD = sa.text("UPDATE dead_letters SET payload = CAST(:payload AS jsonb) WHERE id = :id")


def _sealer(needed: str) -> secrets.Sealer:
    """The workers' sealer, or an error naming what needed it (`needed`: "to seal ...")."""
    from workers.runtime import sealer
    from workers.settings import SettingsError, load_settings

    try:
        return sealer(load_settings())
    except (OSError, SettingsError, secrets.SecretKeyError) as error:
        raise RuntimeError(
            f"0009 needs a secret key {needed} but cannot reach one ({error}); nothing was"
            " changed. Set BACKROOM_SECRET_KEYS to the workers' keys and run it again."
        ) from None


def upgrade() -> None:
    conn = op.get_bind()
    pending = conn.execute(_PENDING).all()
    letters = [
        (row.id, row.payload) for row in conn.execute(_LETTERS) if secrets.clear_tokens(row.payload)
    ]
    needed = f"to seal {len(pending)} pending payment token(s) and {len(letters)} dead letter(s)"
    sealer = _sealer(needed) if pending or letters else None  # before anything is written
    conn.execute(_SETTLED)
    if sealer is None:
        return
    for row in pending:  # a JSON null in place of a token is only dropped
        details = secrets.payment_details(row.token, sealer) if row.token is not None else {}
        conn.execute(_SET_DETAILS, {"id": row.id, "extra": json.dumps(details)})
    for letter_id, payload in letters:
        sealed = secrets.seal_tokens(payload, sealer)
        conn.execute(_SET_PAYLOAD, {"id": letter_id, "payload": json.dumps(sealed)})


def downgrade() -> None:
    conn = op.get_bind()
    pending = conn.execute(_SEALED).all()
    letters = [
        (row.id, row.payload) for row in conn.execute(_LETTERS) if secrets.envelopes(row.payload)
    ]
    if not pending and not letters:
        return
    needed = f"to open {len(pending)} pending payment token(s) and {len(letters)} dead letter(s)"
    sealer = _sealer(needed)
    for row in pending:
        token = {"token": sealer.open(row.sealed)}
        conn.execute(_SET_DETAILS, {"id": row.id, "extra": json.dumps(token)})
    for letter_id, payload in letters:
        try:
            opened = secrets.open_tokens(payload, sealer)
        except secrets.SecretUnreadable:
            continue  # redacted only, or not ours to open: it stays as it is
        conn.execute(_SET_PAYLOAD, {"id": letter_id, "payload": json.dumps(opened)})
