"""docker-compose.yml, checked without Docker: the Compose Specification's JSON Schema, then
what a user would check by reading the file (dependencies, image, queues, auth, healthchecks,
restart policies, the standby beat, payments apart).

No Docker engine runs where these tests run, so the schema is the closest thing to
`docker compose config`. The schema is vendored in `tests/data/compose-spec.json` (origin and
licence in `tests/data/README.md`); if it is missing the test fails and says so, because a
skipped validation looks like a passing one.
"""

from __future__ import annotations

import copy
import json
import re
import shlex
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SCHEMA_FILE = REPO_ROOT / "tests" / "data" / "compose-spec.json"

INFRASTRUCTURE = ("postgres", "redis", "rabbitmq")
WORKERS = ("worker-orders", "worker-payments", "worker-notifications", "worker-reports")
BEATS = ("beat", "beat-standby")
APP_SERVICES = ("migrate", *WORKERS, *BEATS, "flower", "metrics")
QUEUES = {"orders", "inventory", "payments", "notifications", "reports"}
LONG_RUNNING = (*INFRASTRUCTURE, *WORKERS, *BEATS, "flower", "metrics")
FLOWER_ONLY = {"BACKROOM_FLOWER_USER", "BACKROOM_FLOWER_PASSWORD", "BACKROOM_FLOWER_BROKER_API"}
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?+])?[^}]*\}")
URL_PASSWORD = re.compile(r"://[^:/@\s]+:(\$\{[^}]*\}|[^@/\s]*)@")


def load_schema(path: Path = SCHEMA_FILE) -> dict[str, Any]:
    if not path.is_file():
        pytest.fail(
            f"Compose Specification schema not found at {path}: it is vendored in "
            "tests/data/compose-spec.json (see tests/data/README.md); "
            "without it docker-compose.yml cannot be validated.",
            pytrace=False,
        )
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return schema


@cache
def _validator() -> Draft7Validator:
    return Draft7Validator(load_schema())


def schema_errors(document: object) -> list[str]:
    """Every schema violation as `path: message`, sorted by path."""
    errors = sorted(
        _validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path))
    )
    return [f"{_path(error.absolute_path)}: {error.message}" for error in errors]


def _path(parts: Iterable[object]) -> str:
    return ".".join(["$", *map(str, parts)])


@cache
def _compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


@pytest.fixture
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(_compose_text())
    return document


def _service(compose: dict[str, Any], name: str) -> dict[str, Any]:
    service: dict[str, Any] = compose["services"][name]
    return service


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def _option(command: list[str], *names: str) -> str | None:
    """The value of the first of `names` in `command` (`-n X` or `--name=X`), or None."""
    for i, arg in enumerate(command):
        for name in names:
            if arg == name and i + 1 < len(command):
                return command[i + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def _health_command(service: dict[str, Any]) -> list[str]:
    """The health check's command, without Docker's `CMD` / `CMD-SHELL` marker."""
    test = service.get("healthcheck", {}).get("test", [])
    if isinstance(test, str):
        return shlex.split(test)
    if test[:1] == ["CMD-SHELL"]:
        return shlex.split(test[1])
    return list(test[1:]) if test[:1] == ["CMD"] else []


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    depends = service.get("depends_on", {})
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {name: spec.get("condition", "service_started") for name, spec in depends.items()}


def _queues(service: dict[str, Any]) -> set[str]:
    command = _command(service)
    if "-Q" not in command:
        return set()
    return set(command[command.index("-Q") + 1].split(","))


def _strings(node: object) -> Iterator[str]:
    """Every string in the parsed file (keys and values, anchors resolved, comments excluded)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _seconds(duration: str) -> int:
    units = {"h": 3600, "m": 60, "s": 1}
    parts = re.findall(r"(\d+)([hms])", duration)
    assert "".join(f"{n}{u}" for n, u in parts) == duration, f"unexpected duration {duration!r}"
    return sum(int(n) * units[u] for n, u in parts)


# --- the schema ---------------------------------------------------------------------------


def test_given_the_compose_spec_when_validating_docker_compose_yml_then_there_are_no_errors(
    compose: dict[str, Any],
) -> None:
    errors = schema_errors(compose)

    assert not errors, "docker-compose.yml violates the Compose Specification:\n" + "\n".join(
        errors
    )


@pytest.mark.parametrize(
    ("where", "key", "value", "expected"),
    [
        (("services", "redis"), "ports", "not-a-list", "$.services.redis.ports: 'not-a-list'"),
        ((), "servics", {}, "$: 'servics' does not match"),
        (
            ("services", "worker-orders"),
            "depends_on",
            {"migrate": {"condition": "service_finished"}},
            "$.services.worker-orders.depends_on: ",
        ),
        (("services", "postgres"), "helthcheck", {}, "$.services.postgres: 'helthcheck'"),
    ],
    ids=["ports-not-a-list", "unknown-top-level-key", "bad-condition", "misspelt-option"],
)
def test_given_a_broken_copy_when_validating_then_the_validator_reports_the_error(
    compose: dict[str, Any], where: tuple[str, ...], key: str, value: object, expected: str
) -> None:
    broken = copy.deepcopy(compose)
    target = broken
    for step in where:
        target = target[step]
    target[key] = value

    errors = schema_errors(broken)

    assert errors, "the validator accepted a deliberately broken compose file"
    assert [error for error in errors if error.startswith(expected)], errors


def test_given_no_schema_file_when_loading_it_then_the_test_fails_and_names_the_path(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "compose-spec.json"

    with pytest.raises(pytest.fail.Exception, match=re.escape(f"schema not found at {missing}")):
        load_schema(missing)


# --- what a user would check ---------------------------------------------------------------


def test_given_the_file_when_reading_it_then_it_has_no_obsolete_version_key(
    compose: dict[str, Any],
) -> None:
    assert "version" not in compose


def test_given_every_service_when_reading_depends_on_then_each_dependency_exists(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    missing = {
        f"{name} -> {dependency}"
        for name, service in services.items()
        for dependency in _depends_on(service)
        if dependency not in services
    }

    assert not missing


def test_given_a_service_healthy_condition_when_reading_the_dependency_then_it_has_a_healthcheck(
    compose: dict[str, Any],
) -> None:
    unhealthy = {
        f"{name} -> {dependency}"
        for name, service in compose["services"].items()
        for dependency, condition in _depends_on(service).items()
        if condition == "service_healthy" and "healthcheck" not in _service(compose, dependency)
    }

    assert not unhealthy


@pytest.mark.parametrize("name", INFRASTRUCTURE)
def test_given_an_infrastructure_service_when_reading_it_then_it_has_a_healthcheck(
    compose: dict[str, Any], name: str
) -> None:
    healthcheck = _service(compose, name).get("healthcheck", {})

    assert healthcheck.get("test"), f"{name} has no healthcheck test"
    assert not healthcheck.get("disable", False)


def test_given_the_app_services_when_reading_them_then_all_use_the_same_image_and_build(
    compose: dict[str, Any],
) -> None:
    images = {
        (_service(compose, name).get("image"), _service(compose, name).get("build"))
        for name in APP_SERVICES
    }

    assert images == {("backroom:latest", ".")}


def test_given_the_app_services_when_reading_their_environment_then_it_is_the_same_everywhere(
    compose: dict[str, Any],
) -> None:
    environments = [_service(compose, name)["environment"] for name in APP_SERVICES]
    shared = _service(compose, "migrate")["environment"]
    flower = _service(compose, "flower")["environment"]

    # the same settings everywhere; Flower adds its own credentials, which no other service gets
    others = [env for name, env in zip(APP_SERVICES, environments, strict=True) if name != "flower"]
    assert all(environment == shared for environment in others)
    assert {k: v for k, v in flower.items() if k not in FLOWER_ONLY} == shared
    assert not FLOWER_ONLY & set(shared)
    assert {"BACKROOM_DATABASE_URL", "BACKROOM_BROKER_URL", "BACKROOM_RESULT_BACKEND"} <= set(
        shared
    )


def test_given_the_workers_when_reading_their_commands_then_every_queue_is_consumed(
    compose: dict[str, Any],
) -> None:
    consumed = set().union(*(_queues(_service(compose, name)) for name in WORKERS))

    assert consumed == QUEUES


def test_given_the_payments_queue_when_reading_the_workers_then_only_its_own_service_serves_it(
    compose: dict[str, Any],
) -> None:
    serving = {
        name for name, service in compose["services"].items() if "payments" in _queues(service)
    }
    payments = _service(compose, "worker-payments")

    assert serving == {"worker-payments"}
    assert _queues(payments) == {"payments"}, "the payments worker serves other queues too"
    assert _option(_command(payments), "-c", "--concurrency"), "no concurrency of its own"


@pytest.mark.parametrize("name", WORKERS)
def test_given_a_worker_when_reading_it_then_its_health_check_pings_its_own_node_name(
    compose: dict[str, Any], name: str
) -> None:
    worker = _service(compose, name)
    check = _health_command(worker)

    assert check[:3] == ["backroom", "health", "worker"], f"{name}: {check}"
    # `backroom health worker` resolves a name as `worker -n` does: none is celery@<hostname>
    assert _option(check, "-n", "--name") == _option(_command(worker), "-n", "--hostname")
    # the check runs in the worker's container, whose host name is the container's own: a fixed
    # `hostname:` would give every replica of a scaled service the same node name
    assert "hostname" not in worker
    assert not worker["healthcheck"].get("disable", False)


def test_given_the_beats_when_reading_them_then_two_run_one_to_stand_by(
    compose: dict[str, Any],
) -> None:
    beats = [
        name
        for name, service in compose["services"].items()
        if _command(service)[:2] == ["backroom", "beat"]
    ]

    assert sorted(beats) == sorted(BEATS)


@pytest.mark.parametrize("name", BEATS)
def test_given_a_beat_when_reading_it_then_its_health_check_watches_its_loop(
    compose: dict[str, Any], name: str
) -> None:
    beat = _service(compose, name)

    assert _health_command(beat)[:3] == ["backroom", "health", "beat"]
    assert not beat["healthcheck"].get("disable", False)
    assert _depends_on(beat)["migrate"] == "service_completed_successfully"
    # each beat's heartbeat file lives in its own container: a shared data volume would let
    # one beat's heartbeat hide the other's stuck loop
    assert not beat.get("volumes")


@pytest.mark.parametrize("name", WORKERS)
def test_given_a_worker_when_reading_it_then_it_waits_for_migrations_and_the_broker(
    compose: dict[str, Any], name: str
) -> None:
    worker = _service(compose, name)

    assert _command(worker)[:2] == ["backroom", "worker"]
    assert _depends_on(worker)["migrate"] == "service_completed_successfully"
    assert _depends_on(worker)["rabbitmq"] == "service_healthy"
    assert _seconds(worker["stop_grace_period"]) >= 60, "too short for a warm shutdown"


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_given_a_long_running_service_when_reading_it_then_it_restarts_unless_stopped(
    compose: dict[str, Any], name: str
) -> None:
    assert _service(compose, name).get("restart") == "unless-stopped"


def test_given_the_migration_when_reading_it_then_it_runs_once_after_postgres_is_healthy(
    compose: dict[str, Any],
) -> None:
    migrate = _service(compose, "migrate")

    assert _command(migrate) == ["backroom", "db", "upgrade"]
    assert migrate.get("restart") == "no"
    assert _depends_on(migrate) == {"postgres": "service_healthy"}


def test_given_flower_when_reading_it_then_its_mandatory_password_is_in_its_environment_only(
    compose: dict[str, Any],
) -> None:
    flower = _service(compose, "flower")
    password = flower["environment"]["BACKROOM_FLOWER_PASSWORD"]
    commands = [
        arg
        for service in compose["services"].values()
        for arg in _command(service) + _health_command(service)
    ]

    assert _command(flower) == ["backroom", "flower", "--port", "5555", "--address", "0.0.0.0"]
    assert "5555:5555" in flower.get("ports", [])
    match = INTERPOLATION.fullmatch(password)
    assert match, f"Flower's password is written in clear: {password!r}"
    assert match["name"] == "BACKROOM_FLOWER_PASSWORD"
    assert match["op"] == ":?", "Flower's password must be mandatory (${VAR:?message})"
    # a command line shows in `ps` to every user of the machine
    assert not [arg for arg in commands if "FLOWER_PASSWORD" in arg or "basic-auth" in arg]
    assert not [arg for arg in commands if URL_PASSWORD.search(arg)]


def test_given_flower_when_reading_it_then_it_reads_the_queues_from_rabbitmqs_management_api(
    compose: dict[str, Any],
) -> None:
    api = _service(compose, "flower")["environment"]["BACKROOM_FLOWER_BROKER_API"]

    assert api == "http://backroom:${RABBITMQ_PASSWORD:-backroom}@rabbitmq:15672/api/"


def test_given_the_metrics_service_when_reading_it_then_it_serves_on_port_9808_for_everyone(
    compose: dict[str, Any],
) -> None:
    metrics = _service(compose, "metrics")

    assert _command(metrics) == ["backroom", "metrics", "--port", "9808", "--address", "0.0.0.0"]
    assert "9808:9808" in metrics.get("ports", [])
    assert _depends_on(metrics)["migrate"] == "service_completed_successfully"


def test_given_the_file_when_reading_passwords_then_none_is_written_in_clear(
    compose: dict[str, Any],
) -> None:
    in_clear = {
        f"{name}.{key}"
        for name, service in compose["services"].items()
        for key, value in (service.get("environment") or {}).items()
        if "PASS" in key and value is not None and not INTERPOLATION.fullmatch(value)
    }
    in_urls = [
        password
        for text in _strings(compose)
        for password in URL_PASSWORD.findall(text)
        if not INTERPOLATION.fullmatch(password)
    ]

    assert not in_clear
    assert not in_urls


def test_given_the_file_when_reading_variables_then_only_flower_password_and_keys_are_mandatory(
    compose: dict[str, Any],
) -> None:
    texts = list(_strings(compose))
    mandatory = {
        match["name"]
        for text in texts
        for match in INTERPOLATION.finditer(text)
        if match["op"] == ":?"
    }
    stray = [text for text in texts if re.search(r"\$(?![{A-Za-z_])", text.replace("$$", ""))]

    assert mandatory == {"BACKROOM_FLOWER_PASSWORD", "BACKROOM_SECRET_KEYS"}
    assert not stray, "a lone $ must be written $$ in a compose file"
