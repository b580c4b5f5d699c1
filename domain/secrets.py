"""Payment tokens at rest: fingerprinted always, sealed only while something still needs them.

No token is stored in clear. Where one must be kept for later (a pending payment until its
capture, a dead letter until its replay) it is *sealed*: encrypted and authenticated with
Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`). A `Sealer` holds one key or
more: the first seals, any of them opens (`MultiFernet`), so keys rotate: put the new key
first and keep the old ones until nothing sealed under them is left (a pending payment is
captured or cancelled within the reservation hold; a dead letter is kept until it is resolved).

Where a token only needs to be recognised (which token a payment used, which one a dead
letter held, whether the provider saw the same one) its *fingerprint* is kept: the first 16
hex digits of its sha256. It is not keyed, on purpose: it stays the same when keys rotate,
and whoever holds a token can compute it (`printf %s "$TOKEN" | sha256sum | cut -c1-16`) to
find its payment. Providers' tokens are random and long, so their hash gives nothing away; a
guessable token (the simulated provider's `tok_ok`) can be guessed from its fingerprint, as it
could from the order's request fingerprint.

In JSON documents (a dead letter's payload) a token is found by its key, `payment_token` or
`token`, at any depth, and replaced by an envelope:
`{"$sealed": "<Fernet token>" or null, "fingerprint": "<16 hex>", "hint": "tok_"}`.
`hint` is the token's type prefix (`tok_`, `pm_`), kept so an operator sees what kind of token
it was; `$sealed` is null when the token was redacted without a key (it cannot be replayed).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from domain.errors import InvalidValue, PermanentError
from domain.storable import MAX_DEPTH

TOKEN_KEYS = frozenset({"payment_token", "token"})
# payments.details: what the payment keeps of its token.
FINGERPRINT = "token_fingerprint"  # always
SEALED_TOKEN = "token_sealed"  # until the payment is settled (captured, declined, cancelled)

_SEALED, _FINGERPRINT, _HINT = "$sealed", "fingerprint", "hint"
_TYPE_PREFIX = re.compile(r"^[A-Za-z]{2,8}_")
FINGERPRINT_HEX = 16
SHOWN_HEX = 8  # digits of the fingerprint shown in a redacted token


class SecretKeyError(InvalidValue):
    """A configured secret key is not a Fernet key (its value is never printed)."""


class SecretUnreadable(PermanentError):
    """A sealed value that cannot be opened: sealed under a key this process does not have, or
    altered, or only redacted. Trying again with the same keys fails the same way."""


def new_key() -> str:
    """A fresh Fernet key: 32 random bytes, url-safe base64 (44 characters)."""
    return Fernet.generate_key().decode("ascii")


class Sealer:
    """Seals with the first of its keys, opens with any of them."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise SecretKeyError("no secret key: at least one is needed to seal payment tokens")
        self._count = len(keys)
        self._fernet = MultiFernet([_fernet(key, i, len(keys)) for i, key in enumerate(keys, 1)])

    @classmethod
    def ephemeral(cls) -> Sealer:
        """A sealer with a new key that no one else has: what it seals can be opened by this
        object only."""
        return cls([new_key()])

    def __repr__(self) -> str:
        return f"Sealer({self._count} key{'s' if self._count > 1 else ''})"  # never the keys

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode("ascii")).decode()
        except (InvalidToken, UnicodeEncodeError):
            raise SecretUnreadable(
                "a sealed payment token could not be opened: it was sealed under a key that is"
                " not among the secret keys (BACKROOM_SECRET_KEYS, or <data dir>/secret.key"
                " when none is set), or it was altered"
            ) from None


@functools.cache
def process_sealer() -> Sealer:
    """One key for this process's lifetime, never written anywhere: what is sealed with it can
    be opened in this process only (tests, tools that never keep what they seal)."""
    return Sealer.ephemeral()


def _fernet(key: str, position: int, count: int) -> Fernet:
    try:
        return Fernet(key.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        where = f"secret key {position} of {count}" if count > 1 else "the secret key"
        raise SecretKeyError(
            f"{where} is not a Fernet key (32 url-safe base64-encoded bytes, 44 characters;"
            " `backroom secret-key` prints a new one)"
        ) from None


def fingerprint(token: str) -> str:
    """The first 16 hex digits of the token's sha256 (see the module's docstring for why)."""
    return hashlib.sha256(token.encode(errors="surrogatepass")).hexdigest()[:FINGERPRINT_HEX]


def _hint(token: str) -> str:
    found = _TYPE_PREFIX.match(token)
    return found.group(0) if found else ""


def redacted(token: str) -> str:
    """How a token is shown: its type prefix and its fingerprint, `tok_…(fingerprint 1a2b3c4d)`."""
    return _shown(_hint(token), fingerprint(token))


def _shown(hint: str, print_: str) -> str:
    return f"{hint}…(fingerprint {print_[:SHOWN_HEX]})"


def payment_details(token: str, sealer: Sealer) -> dict[str, str]:
    """What a pending payment keeps of its token: its fingerprint, and the token sealed."""
    return {FINGERPRINT: fingerprint(token), SEALED_TOKEN: sealer.seal(token)}


# --- tokens inside JSON documents ------------------------------------------------------------


def is_envelope(value: object) -> bool:
    return isinstance(value, dict) and _SEALED in value and _FINGERPRINT in value


def envelope(token: str, sealer: Sealer | None) -> dict[str, str | None]:
    """The token sealed in its envelope; with no sealer, only its fingerprint and type."""
    sealed = None if sealer is None else sealer.seal(token)
    return {_SEALED: sealed, _FINGERPRINT: fingerprint(token), _HINT: _hint(token)}


TOO_DEEP = f"[nested deeper than {MAX_DEPTH} levels: left out]"


def _replace_tokens(
    value: Any, replace: Callable[[Any], Any], cut: Callable[[], None], depth: int = 0
) -> Any:
    """`value` rebuilt with `replace` applied to what every token key holds, down to
    `MAX_DEPTH`; a list or an object nested deeper is replaced by `TOO_DEEP` (and `cut`
    called), so no token can hide below the search and a hostile nesting costs no more."""
    if isinstance(value, dict | list | tuple) and depth >= MAX_DEPTH:
        cut()
        return TOO_DEEP
    if isinstance(value, dict):
        return {
            key: replace(item)
            if key in TOKEN_KEYS
            else _replace_tokens(item, replace, cut, depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_replace_tokens(item, replace, cut, depth + 1) for item in value]
    return value


def _rebuilt(value: Any, replace: Callable[[Any], Any]) -> Any:
    return _replace_tokens(value, replace, lambda: None)


def _held(value: Any) -> list[Any]:
    """What every token key anywhere in `value` holds; `TOO_DEEP` among them if part of
    `value` is nested too deep to be searched (it may hold one)."""
    found: list[Any] = []

    def keep(item: Any) -> Any:
        found.append(item)
        return item

    _replace_tokens(value, keep, lambda: found.append(TOO_DEEP))
    return found


def clear_tokens(value: Any) -> list[str]:
    """The tokens held in clear under a token key anywhere in `value` (`TOO_DEEP` stands for
    a part nested too deep to be searched)."""
    return [item for item in _held(value) if isinstance(item, str)]


def envelopes(value: Any) -> list[dict[str, Any]]:
    """The envelopes (sealed or redacted tokens) anywhere in `value`."""
    return [item for item in _held(value) if is_envelope(item)]


def seal_tokens(value: Any, sealer: Sealer | None) -> Any:
    """`value` with every token in clear replaced by its envelope (sealed if there is a
    sealer); envelopes already there, and what is not a string, are left as they are."""
    return _rebuilt(value, lambda item: envelope(item, sealer) if isinstance(item, str) else item)


def open_tokens(value: Any, sealer: Sealer) -> Any:
    """`value` as it was before `seal_tokens`: every envelope opened. `SecretUnreadable` if
    one was only redacted or cannot be opened with these keys."""

    def open_one(item: Any) -> Any:
        if not is_envelope(item):
            return item
        if item[_SEALED] is None:
            raise SecretUnreadable(
                f"the payment token {_shown(item.get(_HINT) or '', item[_FINGERPRINT])} was"
                " redacted, not sealed: it cannot be sent again"
            )
        return sealer.open(item[_SEALED])

    return _rebuilt(value, open_one)


def redact_tokens(value: Any) -> Any:
    """`value` as an operator may see it: every token, in clear or sealed, replaced by its
    redacted form (`tok_…(fingerprint 1a2b3c4d)`)."""

    def redact(item: Any) -> Any:
        if isinstance(item, str):
            return redacted(item)
        if is_envelope(item):
            return _shown(item.get(_HINT) or "", str(item[_FINGERPRINT]))
        return item

    return _rebuilt(value, redact)
