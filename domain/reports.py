"""The nightly report as files: one self-contained HTML page and one CSV file per table.

`files(nightly)` renders a `domain.services.report.Nightly` into `{name: bytes}`:

- `report.html`: inline CSS, the charts as inline SVG (matplotlib, text kept as text), no
  other file or network access needed to show it;
- `totals.csv`, `daily.csv`, `top-products.csv`, `top-categories.csv`, `top-vendors.csv`,
  `payment-failures.csv`, `cancellations.csv`, `reorders.csv`, `out-of-stock.csv`,
  `lead-times.csv`: UTF-8, a header row, RFC 4180 quoting. Money is in major units with the
  currency's decimals (`1234.50` for USD, `5000` for JPY) beside a `currency` column; times
  are ISO 8601 in the shop's zone. Text that came from outside (names, reasons) and starts
  like a spreadsheet formula (`=`, `+`, `-`, `@`) is prefixed with `'`, so a spreadsheet
  shows it rather than runs it.

The same numbers give the same bytes: nothing in the files depends on when or where they
were rendered (the SVG's ids are seeded, its date left out). `save` writes them to a folder
that replaces the day's folder whole (a reader sees the old files or the new ones, never a
mix); `email` makes the message for one recipient.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from domain.models import SalesDimension
from domain.notifications import KIND_HEADER, format_money, minor_units
from domain.ports import Attachment, Email
from domain.services.report import DAYS, Incident, Nightly, Ranked

HTML = "report.html"
KIND = "nightly_report"  # the emails' X-Backroom-Kind
SHOWN = 50  # rows of a long list the HTML shows; its CSV has them all

_TOP_FILES = {
    SalesDimension.PRODUCT: "top-products.csv",
    SalesDimension.CATEGORY: "top-categories.csv",
    SalesDimension.VENDOR: "top-vendors.csv",
}
_DETAIL = {SalesDimension.PRODUCT: "sku", SalesDimension.CATEGORY: "path"}


def major(cents: int, currency: str) -> str:
    """Minor units as major units with the currency's decimals: `123450, "USD"` -> `1234.50`,
    `-5, "USD"` -> `-0.05`, `5000, "JPY"` -> `5000` (integer arithmetic only)."""
    decimals = minor_units(currency)
    sign, cents = ("-", -cents) if cents < 0 else ("", cents)
    if decimals == 0:
        return f"{sign}{cents}"
    whole, part = divmod(cents, 10**decimals)
    return f"{sign}{whole}.{part:0{decimals}d}"


def files(nightly: Nightly) -> dict[str, bytes]:
    """Every file of the report, the HTML page first."""
    tables = _tables(nightly)
    rendered = {HTML: html(nightly, list(tables)).encode()}
    rendered.update((name, _csv(rows)) for name, rows in tables.items())
    return rendered


def html(nightly: Nightly, names: Sequence[str] = ()) -> str:
    """The report's self-contained HTML page; `names`: the CSV files it comes with."""
    context = {
        "n": nightly,
        "charts": {c: chart(nightly, c) for c in nightly.series},
        "dimensions": [
            (SalesDimension.PRODUCT, "Top products", "SKU"),
            (SalesDimension.CATEGORY, "Top categories", "Path"),
            (SalesDimension.VENDOR, "Top vendors", None),
        ],
        "failure_reasons": _reasons(nightly.failures),
        "cancellation_reasons": _reasons(nightly.cancellations),
        "shown": SHOWN,
        "days": DAYS,
        "files": names,
    }
    return _environment().get_template("nightly_report.html.j2").render(context)


def chart(nightly: Nightly, currency: str) -> str:
    """Net sales (bars) and orders (line) per day of the series in `currency`, as inline SVG."""
    from matplotlib import rc_context  # the report's only user of matplotlib: imported late
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    points = nightly.series[currency]
    scale = 10 ** minor_units(currency)
    x = list(range(len(points)))  # one slot per day; the ticks name every fifth, ending today
    ticks = x[::-5][::-1]
    with rc_context({"svg.hashsalt": f"backroom-{currency}", "svg.fonttype": "none"}):
        figure = Figure(figsize=(8.0, 3.2), layout="constrained")
        axes = figure.add_subplot()
        bars = axes.bar(x, [p.net / scale for p in points], color="#4c78a8")
        for bar, point in zip(bars, points, strict=True):  # ids a reader (or a test) can find
            bar.set_gid(f"net-{currency}-{point.day.isoformat()}")
        axes.set_ylabel(f"Net sales ({currency})", color="#4c78a8")
        axes.set_ylim(bottom=0)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
        orders = axes.twinx()
        line = orders.plot(x, [p.orders for p in points], color="#f58518", marker="o", ms=3)
        line[0].set_gid(f"orders-{currency}")
        orders.set_ylabel("Orders", color="#f58518")
        orders.set_ylim(bottom=0)
        axes.set_xticks(ticks, [points[i].day.strftime("%b %d") for i in ticks])
        axes.set_title(f"Net sales (bars) and orders (line) per day, last {len(x)} days")
        for side in (axes, orders):
            side.spines["top"].set_visible(False)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    drawn = buffer.getvalue()
    return drawn[drawn.index("<svg") :]


def save(folder: Path, rendered: dict[str, bytes]) -> Path:
    """Write the report's files to `folder` (made if needed), replacing what was there at once:
    the files go to a fresh folder beside it, which then takes its place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    fresh = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}")
    fresh.mkdir()
    try:
        for name, content in rendered.items():
            (fresh / name).write_bytes(content)
        old = folder.with_name(f".{folder.name}.{uuid.uuid4().hex}.old")
        if folder.exists():
            os.replace(folder, old)
        os.replace(fresh, folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    return folder


def email(nightly: Nightly, rendered: dict[str, bytes], to: str) -> Email:
    """The report for one recipient: the HTML page as the body, every file attached (the page
    too: some mail readers do not draw inline SVG). Its Message-ID is the same for every send
    of this day's report to `to`, so a receiver can drop a repeat."""
    totals = "; ".join(
        f"{t.orders:,} order{'' if t.orders == 1 else 's'}, {format_money(t.net, t.currency)} net"
        for t in nightly.totals
    )
    day = nightly.day.isoformat()
    text = (
        f"Nightly report for {day} ({nightly.zone}): {totals or 'no sales'}.\n"
        f"The report is attached as {HTML}, its tables as CSV files.\n"
    )
    attached = tuple(
        Attachment(name, "text/html" if name == HTML else "text/csv", content)
        for name, content in rendered.items()
    )
    return Email(
        to=to,
        subject=f"Nightly report {day}: {totals or 'no sales'}",
        text=text,
        html=rendered[HTML].decode(),
        message_id=f"report-{day}-{uuid.uuid5(uuid.NAMESPACE_URL, to.lower()).hex[:12]}@backroom",
        headers={KIND_HEADER: KIND},
        attachments=attached,
    )


def _tables(nightly: Nightly) -> dict[str, list[Sequence[object]]]:
    """Each CSV file's rows, its header first."""
    zone = ZoneInfo(nightly.zone)
    day = nightly.day.isoformat()
    money = ("gross", "discounts", "tax", "net", "captured", "refunded")
    counts = ("orders", "customers", "units", "cancellations", "refunds")
    tables: dict[str, list[Sequence[object]]] = {
        "totals.csv": [
            ("day", "currency", *counts, *money),
            *(
                (
                    day,
                    t.currency,
                    *(getattr(t, c) for c in counts),
                    *(major(getattr(t, m), t.currency) for m in money),
                )
                for t in nightly.totals
            ),
        ],
        "daily.csv": [
            ("day", "currency", "orders", "net", "captured"),
            *(
                (p.day.isoformat(), c, p.orders, major(p.net, c), major(p.captured, c))
                for c, points in nightly.series.items()
                for p in points
            ),
        ],
    }
    for dimension, name in _TOP_FILES.items():
        detail = _DETAIL.get(dimension)
        header = ("rank", "id", "name", *([detail] if detail else []), "currency", "units")
        tables[name] = [
            (*header, "orders", "gross", "net", "captured"),
            *(_ranked(r, detail is not None) for r in nightly.top if r.dimension == dimension),
        ]
    incident_header = ("order_number", "at", "currency", "amount", "reason")
    tables["payment-failures.csv"] = [incident_header, *_incidents(nightly.failures, zone)]
    tables["cancellations.csv"] = [incident_header, *_incidents(nightly.cancellations, zone)]
    tables["reorders.csv"] = [
        ("request", "sku", "vendor", "quantity", "available", "reorder_point", "status"),
        *(
            (r.id, r.sku, _text(r.vendor), r.quantity, r.available, r.reorder_point, r.status)
            for r in nightly.reorders
        ),
    ]
    tables["out-of-stock.csv"] = [
        ("sku", "name", "vendor", "available", "backorder_allowed"),
        *(
            (
                s.sku,
                _text(s.name),
                _text(s.vendor),
                s.available,
                "yes" if s.allow_backorder else "no",
            )
            for s in nightly.out_of_stock
        ),
    ]
    lead = nightly.lead_times
    tables["lead-times.csv"] = [
        ("day", "shipped", "p50_seconds", "p95_seconds"),
        (day, lead.shipped, _seconds(lead.p50), _seconds(lead.p95)),
    ]
    return tables


def _text(value: str) -> str:
    """Outside text made safe for a spreadsheet: a leading formula character is quoted."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _ranked(r: Ranked, with_detail: bool) -> tuple[object, ...]:
    named = (r.rank, r.key, _text(r.name), *([_text(r.detail)] if with_detail else []))
    money = (major(r.gross, r.currency), major(r.net, r.currency), major(r.captured, r.currency))
    return (*named, r.currency, r.units, r.orders, *money)


def _incidents(incidents: Iterable[Incident], zone: ZoneInfo) -> Iterable[tuple[object, ...]]:
    for i in incidents:
        at = i.at.astimezone(zone).isoformat(timespec="seconds")
        yield (i.order_number, at, i.currency, major(i.amount, i.currency), _text(i.reason))


def _reasons(incidents: Sequence[Incident]) -> list[tuple[str, int]]:
    """Reasons, most frequent first (ties: by text)."""
    counted = Counter(i.reason or "(none given)" for i in incidents)
    return sorted(counted.items(), key=lambda item: (-item[1], item[0]))


def _seconds(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds():.1f}"


def _csv(rows: Iterable[Sequence[object]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode()


def _duration(value: timedelta | None) -> str:
    """`timedelta(hours=26, minutes=5)` -> `1 d 2 h 5 min`; under a minute: seconds."""
    if value is None:
        return "-"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min")]
    return " ".join(f"{amount} {unit}" for amount, unit in parts if amount) or "0 min"


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("domain", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["money"] = format_money
    environment.filters["duration"] = _duration
    environment.filters["count"] = lambda value: f"{value:,}"
    environment.filters["local"] = _local
    return environment


def _local(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%H:%M")
