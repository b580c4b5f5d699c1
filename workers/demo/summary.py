"""The demo's closing tables, read from the database (the truth), not from the client's hopes:
the orders, and the reorder requests the reorder check made after them."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
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


_REORDERS = text(
    """
    SELECT r.sku, r.available, r.reorder_point, r.quantity, v.business_name AS vendor
    FROM reorder_requests r LEFT JOIN vendors v ON v.id = r.vendor_id
    WHERE r.slot = :slot ORDER BY r.sku
    """
)
_EARLIER = text("SELECT count(*) FROM reorder_requests WHERE day = :day AND slot <> :slot")
_RUN = text(
    "SELECT status, result, error FROM scheduled_runs WHERE entry = :entry AND slot = :slot"
)
SHOWN = 20  # reorder requests listed at the most; the count covers them all


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
    out(f"{'customer emails sent':<28}{s['emails_sent']:>12,}")
    out(f"{'enqueue -> final, p50':<28}{s['p50'] * 1000:>10,.0f} ms")
    out(f"{'enqueue -> final, p99':<28}{s['p99'] * 1000:>10,.0f} ms")
    out(f"{'throughput':<28}{s['orders_per_second']:>10,.1f} orders/s")


def run_state(engine: Engine, entry: str, slot: datetime) -> tuple[str | None, str | None]:
    """The status of the entry's run for `slot` (None: no row) and its error, if any."""
    with engine.connect() as conn:
        row = conn.execute(_RUN, {"entry": entry, "slot": slot}).one_or_none()
    return (None, None) if row is None else (str(row.status), row.error)


def collect_reorders(engine: Engine, entry: str, slot: datetime, zone: tzinfo) -> dict[str, Any]:
    """The reorder requests made for `slot` (every row whose `slot` is it), how many vendor
    emails its run sent (from the run's recorded result), and how many requests other checks
    made on the slot's shop-local day (in `zone`): those SKUs are not asked for again that day."""
    day = slot.astimezone(zone).date()
    with engine.connect() as conn:
        requests = conn.execute(_REORDERS, {"slot": slot}).all()
        run = conn.execute(_RUN, {"entry": entry, "slot": slot}).one_or_none()
        earlier = conn.execute(_EARLIER, {"day": day, "slot": slot}).scalar_one()
    result = json.loads(run.result) if run is not None and run.result else {}
    emailed = result.get("vendors_emailed", 0) if isinstance(result, dict) else 0
    return {
        "entry": entry,
        "slot": slot,
        "day": day,
        "earlier": int(earlier),
        "requests": [
            {
                "sku": r.sku,
                "available": int(r.available),
                "reorder_point": int(r.reorder_point),
                "quantity": int(r.quantity),
                "vendor": r.vendor or "-",
            }
            for r in requests
        ],
        "vendor_emails": int(emailed),
    }


def print_reorders(r: dict[str, Any]) -> None:
    """The reorder check's table: one line per request (the first `SHOWN`), then the count of
    requests and of vendor emails; a plain sentence when the check asked for nothing."""
    requests: list[dict[str, Any]] = r["requests"]
    out()
    out(f"reorder check after the orders ({r['entry']}, slot {r['slot'].isoformat()})")
    if requests:
        head = ["SKU", "available", "reorder point", "requested", "vendor"]
        rows = [
            [
                q["sku"],
                str(q["available"]),
                str(q["reorder_point"]),
                str(q["quantity"]),
                q["vendor"],
            ]
            for q in requests[:SHOWN]
        ]
        widths = [max(len(line[i]) for line in [head, *rows]) for i in range(len(head))]
        for line in [head, *rows]:
            cells = [line[0].ljust(widths[0])]
            cells += [cell.rjust(width) for cell, width in zip(line[1:4], widths[1:4], strict=True)]
            out("  " + "  ".join([*cells, line[4]]))
        if len(requests) > SHOWN:
            out(f"  ... and {len(requests) - SHOWN} more")
    else:
        out("  none: no stock was at or under its reorder point without a request made today")
    if r["earlier"]:
        out(
            f"  ({r['earlier']:,} made by other checks on {r['day'].isoformat()}, the shop's day:"
            " a SKU is asked for once a day)"
        )
    out(f"{'reorder requests':<28}{len(requests):>12,}")
    out(f"{'vendor emails sent':<28}{r['vendor_emails']:>12,}")
