"""Turn a refusal by PostgreSQL (a CHECK, UNIQUE or foreign key) into words an operator reads.

The constraint names come from the naming convention in `domain.models.base`, so each rule
has one stable name; the sentences below say what the rule protects.
"""

from __future__ import annotations

from sqlalchemy.exc import DataError, IntegrityError

from domain.errors import RuleViolated

RULES: dict[str, str] = {
    "ck_inventory_on_hand_non_negative": "stock on hand can never go below zero",
    "ck_inventory_reserved_non_negative": "reserved stock can never go below zero",
    "ck_inventory_reserved_within_on_hand": "cannot reserve more stock than is on hand",
    "ck_inventory_variants_on_hand_non_negative": "variant stock can never go below zero",
    "ck_inventory_variants_reserved_non_negative": "reserved variant stock can never go below zero",
    "ck_inventory_variants_reserved_within_on_hand": (
        "cannot reserve more variant stock than is on hand"
    ),
    "ck_products_base_price_positive": "a product's base price must be more than zero cents",
    "ck_products_sale_price_positive": "a product's sale price must be more than zero cents",
    "ck_products_cost_price_non_negative": "a product's cost price cannot be negative",
    "ck_products_sku_format": "a SKU is 3-50 of A-Z, 0-9 and '-'",
    "uq_products_sku": "that SKU is already used by another product",
    "uq_product_variants_sku": "that SKU is already used by another variant",
    "uq_catalog_sku": "that SKU is already used by another product or variant",
    "ck_users_email_format": "that is not a valid email address",
    "uq_users_email": "a user with that email address already exists",
    "uq_users_username": "a user with that username already exists",
    "ck_users_first_name_length": "a user's first name cannot be empty",
    "ck_users_last_name_length": "a user's last name cannot be empty",
    "ck_categories_no_cycle": "a category cannot move under its own descendant",
    "ck_orders_total_adds_up": "an order's total must equal subtotal + tax + shipping - discount",
    "ck_orders_subtotal_non_negative": "an order's subtotal cannot be negative",
    "ck_orders_total_amount_non_negative": "an order's total cannot be negative",
    "ck_orders_currency_format": "an order's currency is a 3-letter code such as USD",
    "uq_orders_idempotency_key": "an order with that idempotency key already exists",
    "ck_order_items_total_adds_up": "a line's total must equal quantity x unit price",
    "ck_order_items_quantity_positive": "an order line is for one unit or more",
    "ck_order_items_unit_price_non_negative": "an order line's unit price cannot be negative",
    "uq_order_items_order_id_product_sku": "an order has one line per SKU",
    "ck_payments_amount_positive": "a payment must be for more than zero",
    "ck_payments_currency_format": "a payment's currency is a 3-letter code such as USD",
    "ck_inventory_movements_quantity_positive": "a stock movement moves one unit or more",
    "ck_inventory_movements_resulting_quantity_non_negative": (
        "a stock movement cannot leave stock on hand below zero"
    ),
    "uq_inventory_movements_once": (
        "that stock movement is already recorded for the same reference (it happens once)"
    ),
    "ck_reviews_rating_range": "a review's rating is 1 to 5",
}


def constraint_of(error: IntegrityError | DataError) -> str | None:
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def explain(error: IntegrityError | DataError) -> RuleViolated:
    """The `RuleViolated` for a database refusal, with the rule's name and a sentence: never
    the statement or the row's values. A value the column's type cannot hold (`DataError`: a
    number out of range, a string too long) is rule `value`, in the database's own words."""
    rule = constraint_of(error) or ("unknown" if isinstance(error, IntegrityError) else "value")
    sentence = RULES.get(rule)
    if sentence is None:
        diag = getattr(error.orig, "diag", None)
        sentence = getattr(diag, "message_primary", None) or str(error.orig).splitlines()[0]
    return RuleViolated(rule, f"{sentence} ({rule})")
