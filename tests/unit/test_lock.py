"""`requirements.lock` agrees with `pyproject.toml`.

Every dependency pyproject.toml declares (the project's, its `test` and `dev` extras and its
build requirements: the lock is made by `make lock` with all of them) is pinned in the lock at
a version its specifier allows, and every pin carries hashes, so `pip install --require-hashes`
gets exactly the tested versions.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
EXTRAS = ("test", "dev")  # the extras `make lock` compiles
FIX = "regenerate it with `make lock`, then `make install`"


def _pins() -> dict[str, tuple[Requirement, list[str]]]:
    """The lock's requirements by canonical name, each with its hashes."""
    text = re.sub(r"\\\n", " ", LOCK.read_text())  # continuation lines joined
    pins: dict[str, tuple[Requirement, list[str]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        requirement, *options = line.split(" --")
        hashes = [option for option in options if option.startswith("hash=")]
        pinned = Requirement(requirement)
        pins[canonicalize_name(pinned.name)] = (pinned, hashes)
    return pins


def _declared() -> list[Requirement]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    extras = project.get("optional-dependencies", {})
    declared = [
        *project["dependencies"],
        *(r for extra in EXTRAS for r in extras.get(extra, [])),
        *pyproject["build-system"]["requires"],
    ]
    return [Requirement(r) for r in declared]


def _pinned_version(pinned: Requirement) -> str | None:
    """The version of an exact pin (`name==1.2.3`), else None."""
    specs = list(pinned.specifier)
    exact = len(specs) == 1 and specs[0].operator == "==" and "*" not in specs[0].version
    return specs[0].version if exact else None


def test_given_the_lock_then_every_line_is_an_exact_pin_with_hashes() -> None:
    problems = [
        f"{pinned}: {'not an exact pin' if _pinned_version(pinned) is None else 'no hashes'}"
        for pinned, hashes in _pins().values()
        if _pinned_version(pinned) is None or not hashes
    ]

    assert _pins(), f"{LOCK.name} pins nothing: {FIX}"
    assert not problems, f"{LOCK.name}: " + "; ".join(problems) + f": {FIX}"


def test_given_pyproject_then_every_declared_dependency_is_pinned_at_a_version_it_allows() -> None:
    pins = _pins()
    problems = []
    for declared in _declared():
        if declared.marker is not None and not declared.marker.evaluate():
            continue  # not for this Python or platform
        found = pins.get(canonicalize_name(declared.name))
        if found is None:
            problems.append(f"{declared} is not in the lock")
            continue
        version = _pinned_version(found[0])
        if version is None or not declared.specifier.contains(version, prereleases=True):
            problems.append(f"{declared} is locked as {found[0]}")

    assert not problems, (
        f"pyproject.toml and {LOCK.name} disagree: " + "; ".join(problems) + f": {FIX}"
    )
