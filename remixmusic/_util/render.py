"""Rendering helpers for reports: CSV and JSON text, HTML tables, embedded PNG figures, the shared CSS.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np


def csv_text(records: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: _fmt(r.get(k, "")) for k in columns})
    return buf.getvalue()


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "" if math.isnan(v) else f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        return ";".join(_fmt(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}={_fmt(x)}" for k, x in v.items())
    return str(v)


def json_ready(obj: Any) -> Any:
    """JSON-safe copy: numpy to lists and scalars, NaN to null."""
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_ready(obj.tolist())
    if isinstance(obj, np.generic):
        return json_ready(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def png_bytes(fig: Any) -> bytes:
    """The figure as PNG bytes, rendered with the Agg canvas whatever the session's backend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue()


def img_tag(fig: Any) -> str:
    """The figure as an embedded PNG."""
    return f"<img alt='plot' src='data:image/png;base64,{base64.b64encode(png_bytes(fig)).decode()}'>"


def html_table(
    records: Sequence[dict[str, Any]],
    columns: tuple[str, ...] | None = None,
    max_rows: int | None = None,
    total: int | None = None,
    full: str = "",
) -> str:
    """An HTML table of ``records``, at most ``max_rows`` rows (all when ``None``).

    When rows are left out (``total``, the size of the whole table, defaults to ``len(records)``; a caller
    may pass only the first rows and the total), a visible line says "first K of M rows" and, with
    ``full``, where the whole table is (e.g. ``pieces.csv``). Only the rows shown are formatted, so the
    cost is bounded by ``max_rows`` whatever the table's size.
    """
    total = len(records) if total is None else total
    if not records or total == 0:
        return "<p>(none)</p>"
    shown = records if max_rows is None else records[:max_rows]
    columns = columns or tuple(shown[0].keys())
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c, '')))}</td>" for c in columns) + "</tr>"
        for r in shown
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    if len(shown) < total:
        where = f"; full table in {html.escape(full)}" if full else ""
        table += f"<p class='truncated'>(first {len(shown):,} of {total:,} rows{where})</p>"
    return table


CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;font-size:12px}"
    "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}th{background:#f3f3f3}img{max-width:100%}"
)
