"""server-side rules: updated_at, the category tree, SKUs unique across the catalog

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 05:40:00

Rules PostgreSQL keeps whoever writes the row (the ORM, plain SQL, a psql session):
- `updated_at` is set by the server on every UPDATE;
- a category's `path` and `level` follow from its parent at any depth, moving a category
  moves its whole subtree, and a category cannot move under its own descendant;
- a SKU names one product or one variant, never both.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOUCHED_TABLES = (
    "addresses",
    "brands",
    "cart_items",
    "categories",
    "inventory",
    "inventory_variants",
    "login_sessions",
    "order_items",
    "orders",
    "payments",
    "product_images",
    "product_variants",
    "products",
    "reviews",
    "roles",
    "shipments",
    "tags",
    "users",
    "wishlist_items",
    "wishlists",
)
# (customers and vendors have no timestamps of their own: their users row has them)

TOUCH = """
CREATE FUNCTION backroom_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END $$
"""

CATEGORY_TREE = """
CREATE FUNCTION backroom_category_tree() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    parent_path text;
    parent_level integer;
BEGIN
    IF NEW.parent_id IS NULL THEN
        NEW.path := '/' || NEW.slug;
        NEW.level := 0;
        RETURN NEW;
    END IF;
    SELECT path, level INTO parent_path, parent_level FROM categories WHERE id = NEW.parent_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'category "%": parent % does not exist', NEW.slug, NEW.parent_id
            USING ERRCODE = 'foreign_key_violation',
                  CONSTRAINT = 'fk_categories_parent_id_categories';
    END IF;
    IF TG_OP = 'UPDATE' AND parent_path LIKE OLD.path || '/%' THEN
        RAISE EXCEPTION 'category "%" cannot move under its own descendant', NEW.slug
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ck_categories_no_cycle';
    END IF;
    NEW.path := parent_path || '/' || NEW.slug;
    NEW.level := parent_level + 1;
    RETURN NEW;
END $$
"""

CATEGORY_SUBTREE = """
CREATE FUNCTION backroom_category_subtree() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.path IS DISTINCT FROM OLD.path THEN
        -- each child recomputes its own path in its BEFORE trigger, and so on down
        UPDATE categories SET parent_id = parent_id WHERE parent_id = NEW.id;
    END IF;
    RETURN NULL;
END $$
"""

SKU_UNIQUE = """
CREATE FUNCTION backroom_sku_unique() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- serialize writers of the same SKU, so two transactions cannot both pass the check
    PERFORM pg_advisory_xact_lock(hashtext('backroom.sku:' || NEW.sku));
    IF TG_TABLE_NAME = 'products' THEN
        PERFORM 1 FROM product_variants WHERE sku = NEW.sku;
    ELSE
        PERFORM 1 FROM products WHERE sku = NEW.sku;
    END IF;
    IF FOUND THEN
        RAISE EXCEPTION 'SKU % is already used by another product or variant', NEW.sku
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'uq_catalog_sku';
    END IF;
    RETURN NEW;
END $$
"""


def upgrade() -> None:
    op.execute(TOUCH)
    for table in TOUCHED_TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_touch BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION backroom_touch_updated_at()"
        )
    op.execute(CATEGORY_TREE)
    op.execute(
        "CREATE TRIGGER categories_tree BEFORE INSERT OR UPDATE ON categories "
        "FOR EACH ROW EXECUTE FUNCTION backroom_category_tree()"
    )
    op.execute(CATEGORY_SUBTREE)
    op.execute(
        "CREATE TRIGGER categories_subtree AFTER UPDATE ON categories "
        "FOR EACH ROW EXECUTE FUNCTION backroom_category_subtree()"
    )
    op.execute(SKU_UNIQUE)
    for table in ("products", "product_variants"):
        op.execute(
            f"CREATE TRIGGER {table}_sku_unique BEFORE INSERT OR UPDATE OF sku ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION backroom_sku_unique()"
        )


def downgrade() -> None:
    for table in ("products", "product_variants"):
        op.execute(f"DROP TRIGGER {table}_sku_unique ON {table}")
    op.execute("DROP FUNCTION backroom_sku_unique()")
    op.execute("DROP TRIGGER categories_subtree ON categories")
    op.execute("DROP FUNCTION backroom_category_subtree()")
    op.execute("DROP TRIGGER categories_tree ON categories")
    op.execute("DROP FUNCTION backroom_category_tree()")
    for table in TOUCHED_TABLES:
        op.execute(f"DROP TRIGGER {table}_touch ON {table}")
    op.execute("DROP FUNCTION backroom_touch_updated_at()")
