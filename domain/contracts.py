"""The public contract, v1: the tasks other systems enqueue and the payloads they send.

Task names and these schemas are a versioned promise: fields are never renamed or retyped in
v1; a breaking change is a new task name. Every public task is read from the queue `orders`.
`contract_document()` is the JSON Schema published in `docs/contract-v1.json`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
)

from domain.errors import InvalidValue, PermanentError
from domain.validation import EMAIL_PATTERN, normalize_email

CONTRACT_VERSION = 1
PUBLIC_QUEUE = "orders"

# ISO 4217 codes in use (2026), without the funds and metals codes.
_ISO_4217_CODES = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
    BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL
    GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
    KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN
    NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK
    SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS
    VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG"""
ISO_4217 = frozenset(_ISO_4217_CODES.split())

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Sku = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_upper=True,
        min_length=3,
        max_length=50,
        pattern=r"^[A-Za-z0-9-]+$",
    ),
]
OrderNumber = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^ORD-[0-9]{8}-[A-Z0-9]{6}$")
]


class ContractViolation(PermanentError):
    """A payload that breaks the contract; `field` names the first offending field.

    Its text is `field: message`, and it can be rebuilt from that text alone, as pickle and a
    Celery client rebuild an exception: a dead letter and a caller see `ContractViolation`."""

    def __init__(self, field: str, message: str | None = None) -> None:
        if message is None:  # rebuilt from its own text
            field, _, message = field.partition(": ")
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


NUL_REFUSED = "contains U+0000 (NUL), a character PostgreSQL cannot store"


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        """No string holds U+0000: PostgreSQL keeps it in neither text nor jsonb, so a payload
        with one is refused here, naming its field, rather than by the database."""
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(NUL_REFUSED)
        return value


class OrderLine(Payload):
    sku: Sku
    quantity: StrictInt = Field(ge=1, le=1000)


class ShippingAddress(Payload):
    name: Text
    line1: Text
    line2: Text | None = None
    city: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    postal_code: Annotated[str, StringConstraints(min_length=3, max_length=20)]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = Field(
        description="ISO 3166-1 alpha-2 country code, e.g. DE"
    )


_ASCII_ONLY = (
    "the shop takes ASCII addresses only (letters, digits and .!#$%&'*+/=?^_`{|}~- before the @,"
    " a dotted domain of letters, digits and - after it)"
)


def _storable_email(value: str) -> str:
    """A valid address (email-validator, no deliverability check) that the database takes
    (`domain.validation.EMAIL_PATTERN`, lower-cased): ASCII only, so an internationalised address
    is refused here rather than by a CHECK. The address is kept in its ASCII form, the domain
    lower-cased: a punycode domain (`xn--...`) stays as it came, not decoded to Unicode."""
    if not value.isascii():
        raise ValueError(_ASCII_ONLY)
    try:
        address = validate_email(value, check_deliverability=False).ascii_email or ""
        normalize_email(address)
    except EmailNotValidError as error:
        raise ValueError(f"value is not a valid email address: {error}") from None
    except InvalidValue:
        raise ValueError(_ASCII_ONLY) from None
    return address


CustomerEmail = Annotated[
    str,
    AfterValidator(_storable_email),
    Field(
        description="An ASCII address (compared lower-case); internationalised ones are refused.",
        # the database's rule, EMAIL_PATTERN, for either case
        json_schema_extra={"format": "email", "pattern": EMAIL_PATTERN.replace("a-z", "a-zA-Z")},
    ),
]


class PlaceOrder(Payload):
    """`orders.place`: hand over an order. The same `idempotency_key` with the same request
    yields the same order; with another request it is refused, naming `idempotency_key`."""

    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    customer_email: CustomerEmail
    customer_name: Text | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
    lines: list[OrderLine] = Field(min_length=1, max_length=100)
    shipping_address: ShippingAddress
    payment_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        if value not in ISO_4217:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return value

    @field_validator("lines")
    @classmethod
    def _one_line_per_sku(cls, lines: list[OrderLine]) -> list[OrderLine]:
        seen: set[str] = set()
        for line in lines:
            if line.sku in seen:
                raise ValueError(f"SKU {line.sku} appears on more than one line")
            seen.add(line.sku)
        return lines


def fingerprint(cmd: PlaceOrder) -> str:
    """sha256 (hex) of what `cmd` asks for, its idempotency key aside: two payloads that parse
    to the same request (spacing, omitted defaults, key order) have the same fingerprint."""
    request = cmd.model_dump(mode="json", exclude={"idempotency_key"})
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class PlaceOrderResult(Payload):
    order_id: str
    order_number: str
    status: str


class OrderStatusResult(Payload):
    order_number: str
    status: str
    payment_status: str
    shipping_status: str
    total_amount: int
    currency: str
    tracking_number: str | None
    history: list[dict[str, str | None]]


class CancelOrderResult(Payload):
    order_number: str
    status: str


class CancelOrder(Payload):
    """`orders.cancel`: stop an order that has not shipped; releases stock, refunds payment."""

    order_number: OrderNumber
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class Restock(Payload):
    """`inventory.restock`: units received. A repeated `idempotency_key` adds nothing."""

    sku: Sku
    quantity: StrictInt = Field(ge=1, le=1_000_000)
    reason: Text
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = Field(
        default=None, description="defaults to the Celery task id"
    )
    reorder_request: Annotated[StrictInt, Field(ge=1, le=2**63 - 1)] | None = Field(
        default=None,
        description="the reorder request this delivery answers (the number in the vendor's"
        " email): an open request for the same SKU is closed",
    )


class OrderStatusQuery(Payload):
    """`orders.status`: where an order stands."""

    order_number: OrderNumber


P = TypeVar("P", bound=Payload)

PUBLIC_TASKS: dict[str, type[Payload]] = {
    "orders.place": PlaceOrder,
    "orders.cancel": CancelOrder,
    "inventory.restock": Restock,
    "orders.status": OrderStatusQuery,
}


RESULTS: dict[str, type[Payload]] = {
    "orders.place": PlaceOrderResult,
    "orders.cancel": CancelOrderResult,
    "orders.status": OrderStatusResult,
}


def parse(model: type[P], args: tuple[Any, ...], kwargs: dict[str, Any]) -> P:
    """Validate a task's arguments against the contract or raise `ContractViolation`."""
    if args:
        raise ContractViolation("payload", "must be keyword arguments (a JSON object), not a list")
    try:
        return model.model_validate(kwargs)
    except ValidationError as error:
        raise _violation(error) from None


def _violation(error: ValidationError) -> ContractViolation:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "payload"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown field (not in the v1 contract)"
    more = len(error.errors()) - 1
    return ContractViolation(field, message + (f" (and {more} more problem(s))" if more else ""))


def contract_document() -> dict[str, Any]:
    """The JSON Schema of every public task's keyword arguments, with its queue."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Backroom public tasks, contract v{CONTRACT_VERSION}",
        "description": (
            "Keyword arguments (a JSON object) of Backroom's public Celery tasks. Send them with "
            "Celery message protocol v2, JSON serializer, to the queue named under each task. "
            "Within v1 fields are never renamed, retyped or made required; a breaking change "
            "gets a new task name. No string may contain U+0000 (NUL): PostgreSQL cannot store "
            "it, so such a payload is refused, naming its field."
        ),
        "version": CONTRACT_VERSION,
        "tasks": {
            name: {
                "queue": PUBLIC_QUEUE,
                "kwargs": model.model_json_schema(),
                **({"returns": RESULTS[name].model_json_schema()} if name in RESULTS else {}),
            }
            for name, model in PUBLIC_TASKS.items()
        },
    }


# --- internal steps -------------------------------------------------------------------------
# Not for other systems, but stable as well: messages in flight carry them across deploys.


class OrderStep(Payload):
    """The payload of every internal step of an order: `inventory.reserve`, `payments.capture`,
    `payments.refund`, `orders.fulfil`, `notifications.send`."""

    order_id: uuid.UUID


class Scheduled(Payload):
    """A payload that may carry the beat's slot: the entry and the slot (an aware instant, UTC)
    it was sent for. A task given one runs once per slot (see `domain.handlers.runner`)."""

    entry: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    slot: AwareDatetime | None = None


class Slot(Scheduled):
    """The payload of a scheduled job: it works on its slot's window, never on the clock."""

    entry: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    slot: AwareDatetime


class Sweep(Scheduled):
    """`orders.sweep`: sent by the beat with its slot, or run by hand (`backroom sweep`)."""
