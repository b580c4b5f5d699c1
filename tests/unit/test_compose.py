"""docker-compose.yml, checked without Docker: the Compose Specification's JSON Schema, then
what a user would check by reading the file (dependencies, image, queues, auth, healthchecks).

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
APP_SERVICES = ("migrate", *WORKERS, "beat", "flower")
QUEUES = {"orders", "inventory", "payments", "notifications", "reports"}
LONG_RUNNING = (*INFRASTRUCTURE, *WORKERS, "beat", "flower")
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

    assert all(environment == environments[0] for environment in environments)
    assert {"BACKROOM_DATABASE_URL", "BACKROOM_BROKER_URL", "BACKROOM_RESULT_BACKEND"} <= set(
        environments[0]
    )


def test_given_the_workers_when_reading_their_commands_then_every_queue_is_consumed(
    compose: dict[str, Any],
) -> None:
    consumed = set().union(*(_queues(_service(compose, name)) for name in WORKERS))

    assert consumed == QUEUES


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


def test_given_flower_when_reading_its_command_then_basic_auth_takes_a_mandatory_password(
    compose: dict[str, Any],
) -> None:
    flower = _service(compose, "flower")
    auth = [arg for arg in _command(flower) if arg.startswith("--basic-auth=")]

    assert len(auth) == 1, "Flower must run with --basic-auth"
    user_and_password = re.fullmatch(r"--basic-auth=(\$\{[^}]*\}|[^:$]+):(?P<password>.+)", auth[0])
    assert user_and_password, f"expected --basic-auth=USER:PASSWORD, got {auth[0]!r}"
    password = user_and_password["password"]
    match = INTERPOLATION.fullmatch(password)
    assert match, f"Flower's password is written in clear: {password!r}"
    assert match["op"] == ":?", "Flower's password must be mandatory (${VAR:?message})"
    assert "5555:5555" in flower.get("ports", [])


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
