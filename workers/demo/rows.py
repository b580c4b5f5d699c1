"""What demo rows look like: vendors, brands, categories, products and customers, as dicts.

Item *i* of each kind comes from its own `random.Random` seeded by (seed, kind, i), so it is
the same whatever the requested counts are: a bigger N later only adds the missing rows.
Nothing here touches the database; `workers.demo.seed` puts the rows in.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import product as cartesian
from typing import Any

from domain.models import ProductStatus, UserStatus
from workers.demo.words import COLORS, SIZES, TIERS, WAREHOUSES, WORDS

DEMO_EMAIL_DOMAIN = "demo.backroom.example"
DEMO_SKU_PATTERN = r"^DEMO-[0-9]{6,}(-[A-Z0-9]+)*$"
_DEMO_SKU = re.compile(DEMO_SKU_PATTERN)

Row = dict[str, Any]
Option = tuple[str, str]  # (code in the SKU, name)


@dataclass(frozen=True)
class Plan:
    """What products refer to: the seed and the ids of the vendors, brands and leaf categories."""

    seed: int
    vendor_ids: list[uuid.UUID]
    brand_ids: list[uuid.UUID]
    leaf_ids: list[uuid.UUID]


@dataclass
class Draft:
    """A product row with its stock row, leaf categories (indices) and variants with stock."""

    sku: str
    product: Row
    stock: Row
    leaves: list[int]
    variants: list[tuple[Row, Row]]


def is_demo_sku(sku: str) -> bool:
    return _DEMO_SKU.fullmatch(sku) is not None


def _rng(seed: int, kind: str, index: int) -> random.Random:
    return random.Random(f"backroom-demo:{seed}:{kind}:{index}")


def _draw(rng: random.Random, kind: str) -> str:
    return rng.choice(WORDS[kind])


def _pick(rng: random.Random, ids: Sequence[uuid.UUID]) -> uuid.UUID:
    """One draw whatever `len(ids)` is, so later draws do not depend on the counts."""
    return ids[int(rng.random() * len(ids))]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# --- people -----------------------------------------------------------------------------------
def vendor(seed: int, i: int) -> tuple[Row, Row]:
    """Vendor `i`: its `users` row and its `vendors` row."""
    rng = _rng(seed, "vendor", i)
    first, last = _draw(rng, "first_names"), _draw(rng, "last_names")
    business = f"{last} {_draw(rng, 'trades')} {i}"
    about = f"{business} sells {_draw(rng, 'nouns').lower()}s and more."
    row = {"business_name": business, "business_description": about, "is_verified": True}
    return _user(f"vendor.{i:05d}", first, last, "vendor"), row


def customer(seed: int, i: int) -> tuple[Row, Row]:
    """Customer `i`: its `users` row and its `customers` row."""
    rng = _rng(seed, "customer", i)
    first, last = _draw(rng, "first_names"), _draw(rng, "last_names")
    row = {
        "customer_tier": rng.choice(TIERS),
        "loyalty_points": rng.randint(0, 5000),
        "email_marketing_consent": rng.random() < 0.4,
        "sms_marketing_consent": rng.random() < 0.15,
    }
    return _user(f"{first}.{last}.{i + 1:06d}".lower(), first, last, "customer"), row


def _user(handle: str, first: str, last: str, kind: str) -> Row:
    return {
        "email": f"{handle}@{DEMO_EMAIL_DOMAIN}",
        "username": handle,
        "first_name": first,
        "last_name": last,
        "user_type": kind,
        "status": UserStatus.ACTIVE,
        "is_email_verified": True,
    }


# --- brands and categories --------------------------------------------------------------------
def brands(seed: int, count: int) -> list[Row]:
    """Unique names: every head+tail pair once (shuffled by the seed), then again numbered."""
    pairs = list(cartesian(WORDS["brand_heads"], WORDS["brand_tails"]))
    random.Random(f"backroom-demo:{seed}:brands").shuffle(pairs)
    laps = [divmod(i, len(pairs)) for i in range(count)]
    names = [f"{pairs[n][0]}{pairs[n][1]}" + (f" {lap + 1}" if lap else "") for lap, n in laps]
    features = WORDS["features"]
    return [
        dict(name=name, slug=_slug(name), description=f"{name}: {features[i % len(features)]}.")
        for i, name in enumerate(names)
    ]


def category_levels(seed: int) -> list[list[tuple[str, Row]]]:
    """Three levels (department / section / range) of (parent slug, row); roots have no parent."""
    rng = random.Random(f"backroom-demo:{seed}:categories")
    roots = enumerate(rng.sample(WORDS["departments"], 4))
    levels = [[("", _category(name, _slug(name), order)) for order, name in roots]]
    for words in (WORDS["sections"], WORDS["ranges"]):
        level = [
            (up["slug"], _category(f"{up['name']} {word}", f"{up['slug']}-{_slug(word)}", order))
            for _, up in levels[-1]
            for order, word in enumerate(rng.sample(words, 3))
        ]
        levels.append(level)
    return levels


def _category(name: str, slug: str, order: int) -> Row:
    return dict(name=name, slug=slug, display_order=order, description=f"All {name.lower()}.")


# --- products ---------------------------------------------------------------------------------
def product(plan: Plan, i: int) -> Draft:
    """Product `i` (SKU `DEMO-000001` for 0): some have variants, a few have no stock."""
    rng = _rng(plan.seed, "product", i)
    words = (_draw(rng, "adjectives"), _draw(rng, "materials"), _draw(rng, "nouns"))
    sku = f"DEMO-{i + 1:06d}"
    row = _product_row(rng, sku, words) | {"vendor_id": _pick(rng, plan.vendor_ids)}
    row["brand_id"] = _pick(rng, plan.brand_ids) if rng.random() < 0.9 else None
    leaves = rng.sample(range(len(plan.leaf_ids)), rng.choice((1, 1, 2)))
    variants = _variants(rng, sku) if rng.random() < 0.3 else []
    on_hand = sum(st["quantity_on_hand"] for _, st in variants) if variants else _units(rng, 200)
    return Draft(sku, row, _stock(rng, on_hand), leaves, variants)


def _product_row(rng: random.Random, sku: str, words: tuple[str, str, str]) -> Row:
    adjective, material, noun = words
    name = f"{adjective} {material} {noun}"
    base = rng.randint(3, 499) * 100 + rng.choice((0, 49, 95, 99))
    return {
        "name": name,
        "slug": f"{_slug(name)}-{sku.lower()}",
        "sku": sku,
        "short_description": f"A {adjective.lower()} {noun.lower()} in {material.lower()}.",
        "description": f"The {name} is {_draw(rng, 'features')}. {_draw(rng, 'benefits')}",
        "base_price": base,
        "sale_price": base * rng.randint(60, 90) // 100 if rng.random() < 0.25 else None,
        "cost_price": base * rng.randint(35, 60) // 100,
        "weight": Decimal(rng.randint(50, 25_000)) / 1000,
        "status": ProductStatus.ACTIVE,
        "is_featured": rng.random() < 0.05,
        "attributes": {"material": material.lower()},
    }


def _variants(rng: random.Random, sku: str) -> list[tuple[Row, Row]]:
    """2-4 colour/size options, each with its own stock row."""
    options = rng.sample(list(cartesian(COLORS, SIZES)), rng.randint(2, 4))
    return [_variant(rng, sku, *option) for option in options]


def _variant(rng: random.Random, sku: str, color: Option, size: Option) -> tuple[Row, Row]:
    variant = {
        "name": f"{color[1]} - {size[1]}",
        "sku": f"{sku}-{color[0]}-{size[0]}",
        "price_adjustment": rng.choice((0, 0, 100, 250, 500)),
        "attributes": {"color": color[1].lower(), "size": size[0]},
    }
    return variant, dict(quantity_on_hand=_units(rng, 50), low_stock_threshold=5)


def _units(rng: random.Random, most: int) -> int:  # a few items are sold out
    return 0 if rng.random() < 0.06 else rng.randint(1, most)


def _stock(rng: random.Random, on_hand: int) -> Row:
    threshold = rng.randint(5, 15)
    reorder_point, reorder_quantity = threshold + rng.randint(5, 25), rng.choice((50, 100, 200))
    reordered = on_hand <= reorder_point and rng.random() < 0.5
    return {
        "quantity_on_hand": on_hand,
        "quantity_on_order": reorder_quantity if reordered else 0,
        "low_stock_threshold": threshold,
        "reorder_point": reorder_point,
        "reorder_quantity": reorder_quantity,
        "warehouse_location": rng.choice(WAREHOUSES),
        "bin_location": f"{rng.choice('ABCDEF')}-{rng.randint(1, 40):02d}-{rng.randint(1, 6)}",
    }
