"""The demo's closing table, read from the database (the truth), not from the client's hopes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from domain.notifications import format_money
from workers.cli.output import out

_PER_ORDER = text(
    """
    SELECT o.idempotency_key, o.status,
           extract(epoch FROM (SELECT max(h.created_at) FROM order_status_history h
                               WHERE h.order_id = o.id)) AS final_at
    FROM orders o WHERE o.idempotency_key LIKE :k
    """
)
_TOTALS = text(
    """
    SELECT
      (SELECT coalesce(sum(p.amount), 0) FROM payments p JOIN orders o ON o.id = p.order_id
        WHERE o.idempotency_key LIKE :k AND p.status = 'captured') AS captured,
      (SELECT coalesce(sum(m.quantity), 0) FROM inventory_movements m JOIN orders o
        ON o.id = m.reference_id WHERE o.idempotency_key LIKE :k AND m.movement_type = 'out')
        AS units,
      (SELECT count(*) FROM notifications n JOIN orders o ON o.id = n.order_id
        WHERE o.idempotency_key LIKE :k AND n.status = 'sent') AS emails
    """
)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def collect(engine: Engine, run: str, sent: dict[str, float]) -> dict[str, Any]:
    key = f"demo-{run}-%"
    with engine.connect() as conn:
        orders = conn.execute(_PER_ORDER, {"k": key}).all()
        totals = conn.execute(_TOTALS, {"k": key}).one()
    final = [o for o in orders if o.status in ("shipped", "cancelled", "refunded")]
    latencies = [
        float(o.final_at) - sent[o.idempotency_key] for o in final if o.idempotency_key in sent
    ]
    span = max((float(o.final_at) for o in final), default=0.0) - min(sent.values(), default=0.0)
    by_status: dict[str, int] = {}
    for o in orders:
        by_status[o.status] = by_status.get(o.status, 0) + 1
    return {
        "placed": len(sent),
        "final": len(final),
        "by_status": by_status,
        "captured": int(totals.captured),
        "units_shipped": int(totals.units),
        "emails_sent": int(totals.emails),
        "p50": _percentile(latencies, 0.50),
        "p99": _percentile(latencies, 0.99),
        "orders_per_second": len(final) / span if span > 0 else 0.0,
    }


def print_summary(s: dict[str, Any]) -> None:
    out()
    out(f"{'orders placed':<28}{s['placed']:>12,}")
    for status, count in sorted(s["by_status"].items()):
        out(f"  {status:<26}{count:>12,}")
    out(f"{'revenue captured':<28}{format_money(s['captured'], 'USD'):>16}")
    out(f"{'units shipped':<28}{s['units_shipped']:>12,}")
    out(f"{'emails sent':<28}{s['emails_sent']:>12,}")
    out(f"{'enqueue -> final, p50':<28}{s['p50'] * 1000:>10,.0f} ms")
    out(f"{'enqueue -> final, p99':<28}{s['p99'] * 1000:>10,.0f} ms")
    out(f"{'throughput':<28}{s['orders_per_second']:>10,.1f} orders/s")
