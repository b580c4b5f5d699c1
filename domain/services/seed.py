"""Demo data for `backroom seed`: a deterministic catalog with stock, vendors and customers.

Item *i* of each kind comes from its own `random.Random` seeded by (seed, kind, i), so it is
the same whatever the requested counts are: a bigger N later only adds the missing rows.
Rows go in with PostgreSQL `INSERT ... ON CONFLICT DO NOTHING RETURNING`, in batches that
commit one by one, so a rerun (or a run after an interruption) creates only what is missing.
"""

from __future__ import annotations

import random
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import partial
from itertools import product as cartesian
from typing import Any, TypeVar

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session, sessionmaker

from domain.db import unit_of_work
from domain.errors import InvalidValue, PermanentError
from domain.models import Base, ProductStatus, UserStatus

DEMO_EMAIL_DOMAIN = "demo.backroom.example"
BATCH_SIZE = 500
DEMO_SKU_PATTERN = r"^DEMO-[0-9]{6,}(-[A-Z0-9]+)*$"
_DEMO_SKU = re.compile(DEMO_SKU_PATTERN)

Row = dict[str, Any]
Option = tuple[str, str]  # (code in the SKU, name)
Progress = Callable[[int, int], None]
T = TypeVar("T")
_TABLES = Base.metadata.tables
_MANY = {"insertmanyvalues_page_size": BATCH_SIZE}  # multi-row INSERTs of BATCH_SIZE rows


# --- word lists ------------------------------------------------------------------------------
def _word_lists(text: str) -> dict[str, tuple[str, ...]]:
    """`name: a b c` or `name: a phrase | another`; a line without a `:` continues the last."""
    joined: dict[str, str] = {}
    name = ""
    for line in text.strip().splitlines():
        if ":" in line:
            name, line = line.split(":", 1)
        joined[name] = f"{joined.get(name, '')} {line}"
    split = {key: text.split("|" if "|" in text else None) for key, text in joined.items()}
    return {key: tuple(word.strip() for word in words) for key, words in split.items()}


WORDS = _word_lists("""
departments: Home Kitchen Garden Office Outdoors Sports Electronics Toys Bath Travel
sections: Essentials Classics Premium Everyday Seasonal Compact Professional Eco
ranges: Storage Lighting Tools Textiles Accessories Decor Furniture Gadgets Care
adjectives: Rustic Modern Classic Compact Deluxe Portable Vintage Sleek Sturdy Elegant Cozy
    Bold Minimal Handmade Foldable Smart Ergonomic Premium Lightweight Heritage Coastal Nordic
materials: Oak Walnut Bamboo Steel Copper Ceramic Linen Cotton Leather Glass Wool Marble Brass
    Cedar Granite Canvas Velvet Aluminium
nouns: Lamp Chair Kettle Backpack Blanket Planter Mug Desk Shelf Clock Speaker Tent Jacket Rug
    Bottle Cushion Basket Skillet Notebook Headphones Lantern Stool Mirror Vase Toolbox Teapot
    Organizer Hammock Cutlery Umbrella
features: built to last for years | easy to clean and care for | designed for small spaces
    | finished by hand in small batches | tested for everyday use | made to be repaired
benefits: A thoughtful gift for any occasion. | Pairs well with the rest of the collection.
    | Backed by a two-year warranty. | Ships flat and assembles in minutes.
brand_heads: North Blue Silver Oak Stone River Bright Iron Maple Sun Cedar Harbor Wild
brand_tails: wind peak line craft works field forge leaf haven mill wave crest ridge
trades: Supply Co | Trading | Goods | Outfitters | Wholesale | Home Store
first_names: Ada Alan Grace Linus Margaret Dennis Barbara Ken Radia Tim Frances Edsger Hedy
    Niklaus Katherine John Annie Guido Joan Donald Sophie Yukihiro Mary Bjarne Lynn James
last_names: Lovelace Turing Hopper Torvalds Hamilton Ritchie Liskov Thompson Perlman Lee Allen
    Dijkstra Lamarr Wirth Johnson Backus Easley Rossum Clarke Knuth Wilson Matsumoto Shaw
""")
COLORS = (("RD", "Red"), ("BL", "Blue"), ("GN", "Green"), ("BK", "Black"), ("WH", "White"))
SIZES = (("S", "Small"), ("M", "Medium"), ("L", "Large"), ("XL", "Extra Large"))
TIERS = ("bronze", "bronze", "bronze", "silver", "silver", "gold", "platinum")
WAREHOUSES = ("WH-EAST", "WH-WEST", "WH-CENTRAL")


@dataclass(frozen=True)
class SeedReport:
    """Rows this run created (all zeros when everything was already there)."""

    vendors: int
    brands: int
    categories: int
    products: int
    variants: int
    customers: int
    units_in_stock: int  # product-level on hand (a product with variants holds their sum)


class NonDemoData(PermanentError):
    """The database holds real rows; seeding would mix demo data into them."""


@dataclass(frozen=True)
class _Plan:
    seed: int
    vendor_ids: list[uuid.UUID]
    brand_ids: list[uuid.UUID]
    leaf_ids: list[uuid.UUID]


@dataclass
class _Draft:
    sku: str
    product: Row
    stock: Row
    leaves: list[int]
    variants: list[tuple[Row, Row]]


def is_demo_sku(sku: str) -> bool:
    return _DEMO_SKU.fullmatch(sku) is not None


def seed_catalog(
    factory: sessionmaker[Session],
    *,
    products: int,
    customers: int,
    seed: int,
    force: bool = False,
    progress: Progress | None = None,
) -> SeedReport:
    """Create whatever demo rows are missing for these counts; refuse on real data unless forced."""
    if products < 0 or customers < 0:
        raise InvalidValue(f"counts cannot be negative: {products} products, {customers} customers")
    with unit_of_work(factory) as s:
        plan, tally = _seed_fixtures(s, seed, products, force)
    batches = [partial(_seed_products, plan=plan, indices=c) for c in _slices(range(products))]
    batches += [partial(_seed_customers, seed=seed, indices=c) for c in _slices(range(customers))]
    for batch in batches:  # one unit of work each: committed before its progress is reported
        with unit_of_work(factory) as s:
            tally.update(batch(s))
        if progress is not None:
            progress(tally["items"], products + customers)
    return SeedReport(**{f.name: tally[f.name] for f in fields(SeedReport)})


def _slices(items: Sequence[T], size: int = BATCH_SIZE) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _rng(seed: int, kind: str, index: int) -> random.Random:
    return random.Random(f"backroom-demo:{seed}:{kind}:{index}")


def _draw(rng: random.Random, kind: str) -> str:
    return rng.choice(WORDS[kind])


def _pick(rng: random.Random, ids: Sequence[uuid.UUID]) -> uuid.UUID:
    """One draw whatever `len(ids)` is, so later draws do not depend on the counts."""
    return ids[int(rng.random() * len(ids))]


# --- refusing real data ----------------------------------------------------------------------
def _refuse_non_demo(s: Session) -> None:
    sku, email = _TABLES["products"].c.sku, _TABLES["users"].c.email
    found = [
        _offenders(s, sku, ~sku.regexp_match(DEMO_SKU_PATTERN)),
        _offenders(s, email, ~email.endswith(f"@{DEMO_EMAIL_DOMAIN}")),
    ]
    if problems := [text for text in found if text]:
        raise NonDemoData(
            f"the database holds rows that are not demo data ({'; '.join(problems)}); demo SKUs "
            f"look like DEMO-000001 and demo users are @{DEMO_EMAIL_DOMAIN}. Seeding would mix "
            "demo rows into real ones: pass --force to seed anyway."
        )


def _offenders(s: Session, column: Any, condition: Any) -> str | None:
    count, example = s.execute(select(func.count(), func.min(column)).where(condition)).one()
    return f"{count} {column.table.name} row(s), e.g. {column.name} {example!r}" if count else None


# --- inserting -------------------------------------------------------------------------------
def _insert_returning(s: Session, table: Table, rows: list[Row], key: str) -> dict[str, uuid.UUID]:
    """Insert what is new (skipping rows whose unique keys exist); map key -> id of the new."""
    stmt = pg_insert(table).on_conflict_do_nothing().returning(table.c[key], table.c.id)
    return {k: id_ for k, id_ in s.execute(stmt, rows, execution_options=_MANY)} if rows else {}


def _insert(s: Session, table: Table, rows: list[Row]) -> None:
    if rows:
        s.execute(pg_insert(table), rows, execution_options=_MANY)


def _ids_by(s: Session, table: Table, key: str, values: list[str]) -> list[uuid.UUID]:
    """Ids of existing rows in the order of `values` (new or already there)."""
    stmt = select(table.c[key], table.c.id).where(table.c[key].in_(values))
    found = {k: id_ for k, id_ in s.execute(stmt)}
    return [found[value] for value in values]


def _insert_people(s: Session, people: list[tuple[Row, Row]], kind: str) -> int:
    """A `users` row plus its `customers`/`vendors` row with the same id (joined inheritance)."""
    ids = _insert_returning(s, _TABLES["users"], [user for user, _ in people], "email")
    rows = [more | {"id": ids[u["email"]]} for u, more in people if u["email"] in ids]
    _insert(s, _TABLES[kind], rows)
    return len(rows)


# --- vendors, brands, categories -------------------------------------------------------------
def _seed_fixtures(s: Session, seed: int, products: int, force: bool) -> tuple[_Plan, Counter[str]]:
    if not force:
        _refuse_non_demo(s)
    vendors = [_vendor(seed, i) for i in range(1, max(1, products // 25) + 1)]
    brands = _brands(seed, max(1, products // 10))
    tally = Counter(vendors=_insert_people(s, vendors, "vendors"))
    tally["brands"] = len(_insert_returning(s, _TABLES["brands"], brands, "name"))
    tally["categories"], leaf_ids = _seed_categories(s, seed)
    vendor_ids = _ids_by(s, _TABLES["users"], "email", [user["email"] for user, _ in vendors])
    brand_ids = _ids_by(s, _TABLES["brands"], "name", [brand["name"] for brand in brands])
    return _Plan(seed, vendor_ids, brand_ids, leaf_ids), tally


def _vendor(seed: int, i: int) -> tuple[Row, Row]:
    rng = _rng(seed, "vendor", i)
    first, last = _draw(rng, "first_names"), _draw(rng, "last_names")
    business = f"{last} {_draw(rng, 'trades')} {i}"
    about = f"{business} sells {_draw(rng, 'nouns').lower()}s and more."
    vendor = {"business_name": business, "business_description": about, "is_verified": True}
    return _user(f"vendor.{i:05d}", first, last, "vendor"), vendor


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


def _brands(seed: int, count: int) -> list[Row]:
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


def _seed_categories(s: Session, seed: int) -> tuple[int, list[uuid.UUID]]:
    """Three levels (department / section / range); the trigger sets each `path` and `level`."""
    created, ids, slugs = 0, dict[str, uuid.UUID](), list[str]()
    for level in _category_levels(random.Random(f"backroom-demo:{seed}:categories")):
        rows = [row | {"parent_id": ids.get(parent)} for parent, row in level]
        created += len(_insert_returning(s, _TABLES["categories"], rows, "slug"))
        slugs = [row["slug"] for row in rows]
        ids |= dict(zip(slugs, _ids_by(s, _TABLES["categories"], "slug", slugs), strict=True))
    return created, [ids[slug] for slug in slugs]


def _category_levels(rng: random.Random) -> list[list[tuple[str, Row]]]:
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


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# --- products ---------------------------------------------------------------------------------
def _seed_products(s: Session, plan: _Plan, indices: Sequence[int]) -> Counter[str]:
    drafts = [_product(plan, i) for i in indices]
    ids = _insert_returning(s, _TABLES["products"], [d.product for d in drafts], "sku")
    fresh = [d for d in drafts if d.sku in ids]
    _insert(s, _TABLES["inventory"], [d.stock | {"product_id": ids[d.sku]} for d in fresh])
    links = [
        dict(product_id=ids[d.sku], category_id=plan.leaf_ids[n]) for d in fresh for n in d.leaves
    ]
    _insert(s, _TABLES["product_categories"], links)
    variants = _seed_variants(s, [(ids[d.sku], v) for d in fresh for v in d.variants])
    units = sum(d.stock["quantity_on_hand"] for d in fresh)
    return Counter(items=len(indices), products=len(fresh), variants=variants, units_in_stock=units)


def _seed_variants(s: Session, variants: list[tuple[uuid.UUID, tuple[Row, Row]]]) -> int:
    rows = [variant | {"product_id": product_id} for product_id, (variant, _) in variants]
    ids = _insert_returning(s, _TABLES["product_variants"], rows, "sku")
    stock = [st | {"variant_id": ids[v["sku"]]} for _, (v, st) in variants if v["sku"] in ids]
    _insert(s, _TABLES["inventory_variants"], stock)
    return len(stock)


def _product(plan: _Plan, i: int) -> _Draft:
    rng = _rng(plan.seed, "product", i)
    words = (_draw(rng, "adjectives"), _draw(rng, "materials"), _draw(rng, "nouns"))
    sku = f"DEMO-{i + 1:06d}"
    row = _product_row(rng, sku, words) | {"vendor_id": _pick(rng, plan.vendor_ids)}
    row["brand_id"] = _pick(rng, plan.brand_ids) if rng.random() < 0.9 else None
    leaves = rng.sample(range(len(plan.leaf_ids)), rng.choice((1, 1, 2)))
    variants = _variants(rng, sku) if rng.random() < 0.3 else []
    on_hand = sum(st["quantity_on_hand"] for _, st in variants) if variants else _units(rng, 200)
    return _Draft(sku, row, _stock(rng, on_hand), leaves, variants)


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


# --- customers --------------------------------------------------------------------------------
def _seed_customers(s: Session, seed: int, indices: Sequence[int]) -> Counter[str]:
    people = [_customer(seed, i) for i in indices]
    return Counter(items=len(indices), customers=_insert_people(s, people, "customers"))


def _customer(seed: int, i: int) -> tuple[Row, Row]:
    rng = _rng(seed, "customer", i)
    first, last = _draw(rng, "first_names"), _draw(rng, "last_names")
    customer = {
        "customer_tier": rng.choice(TIERS),
        "loyalty_points": rng.randint(0, 5000),
        "email_marketing_consent": rng.random() < 0.4,
        "sms_marketing_consent": rng.random() < 0.15,
    }
    return _user(f"{first}.{last}.{i + 1:06d}".lower(), first, last, "customer"), customer
