"""Payloads generated from the published contract, `docs/contract-v1.json`, with
hypothesis-jsonschema; and a way to draw a fixed list of them, the same on every run.

hypothesis-jsonschema 0.23.1 (the newest) drives Hypothesis's private `cu.many` through
`more()` and `reject()`; the Hypothesis in the lock offers `with many(...) as elements: for _
in elements:` instead, and the object strategy fails with `AttributeError: 'many' object has
no attribute 'more'`. `_OldMany` gives it the old face over the new class; it is installed
only when Hypothesis lacks `more()`, and `test_contract_matches_database` fails loudly if the
generated payloads stop being what the schema says.
"""

from __future__ import annotations

import copy
import json
import types
from pathlib import Path
from typing import Any, TypeVar, cast

import hypothesis_jsonschema._from_schema as _from_schema
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import utils as cu
from hypothesis_jsonschema import from_schema

REPO = Path(__file__).resolve().parents[1]
CONTRACT: dict[str, Any] = json.loads((REPO / "docs" / "contract-v1.json").read_text())
T = TypeVar("T")
_DONE = object()


class _OldMany:
    """`cu.many` as hypothesis-jsonschema calls it: `while elements.more(): ...`."""

    def __init__(self, data: Any, **sizes: Any) -> None:
        self._many = cu.many(data, **sizes)
        self._steps: Any = None

    def more(self) -> bool:
        if self._steps is None:
            self._steps = iter(self._many.__enter__())
        if next(self._steps, _DONE) is _DONE:
            self._many.__exit__(None, None, None)
            return False
        return True

    def reject(self, why: str | None = None) -> None:
        self._many.reject(why)


if not hasattr(cu.many, "more"):
    _from_schema.cu = types.SimpleNamespace(**{**vars(cu), "many": _OldMany})  # type: ignore[assignment,attr-defined]


def kwargs_schema(task: str, **narrowed: dict[str, Any]) -> dict[str, Any]:
    """The published JSON Schema of `task`'s keyword arguments; each keyword names a property
    (`currency`, or `OrderLine.sku` for one under `$defs`) whose schema is replaced, so that
    what the catalog decides (its SKUs, its currency) can be narrowed to a test's catalog."""
    schema: dict[str, Any] = copy.deepcopy(CONTRACT["tasks"][task]["kwargs"])
    for name, replacement in narrowed.items():
        owner, _, prop = name.rpartition(".")
        target = schema["$defs"][owner] if owner else schema
        assert prop in target["properties"], f"{task} has no property {name}"
        target["properties"][prop] = replacement
    return schema


def payloads(task: str, **narrowed: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments of `task` that its published schema (narrowed so) accepts."""
    return cast(st.SearchStrategy[dict[str, Any]], from_schema(kwargs_schema(task, **narrowed)))


def drawn(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """`count` examples of `strategy`, the same ones on every run (derandomized, no example
    database, no shrinking): for tests that build their inputs up front."""
    found: list[T] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def keep(example: T) -> None:
        found.append(example)

    keep()
    assert len(found) == count, f"drew {len(found)} of {count} examples"
    return found


def one_line_per_sku(payload: dict[str, Any]) -> dict[str, Any]:
    """An `orders.place` payload with only the first line of each SKU: the schema cannot say
    "one line per SKU" (the contract refuses a repeat, in either case)."""
    lines, seen = [], set()
    for line in payload["lines"]:
        sku = line["sku"].strip().upper()
        if sku not in seen:
            seen.add(sku)
            lines.append(line)
    return {**payload, "lines": lines}
