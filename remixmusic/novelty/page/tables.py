"""Tables of report.html: sortable by a click on a column head (the page's script), wide ones scrolled
inside their own box instead of running off the page, long ones capped with a line saying where the
whole table is.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from remixmusic._util.render import _fmt

HTML_MAX_ROWS = 500
"""Rows of each table in ``report.html`` at most; the full tables are in the CSV files and report.json."""

HTML_MAX_SOURCE_ROWS = 100
"""Passages of one piece shown in its details at most (table rows and side-by-side views; all of them
are in passages.csv)."""


Column = tuple[str, str] | tuple[str, str, str]
"""A table column: ``(key, heading)`` or ``(key, heading, what it holds)`` (shown as the heading's tooltip)."""


@dataclass(frozen=True)
class Cell:
    """A table cell given as HTML (``markup``, not escaped again) with the value it sorts by."""

    markup: str
    sort: float | str = ""


def cell(value: Any) -> str:
    """A ``<td>``: a :class:`Cell` as is, a number with its exact value to sort by, else escaped text."""
    if isinstance(value, Cell):
        key = value.sort
        sort = f" data-sort='{html.escape(str(key))}'" if key != "" else ""
        return f"<td{sort}>{value.markup}</td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and math.isnan(value):
            return "<td data-sort=''></td>"
        return f"<td class='num' data-sort='{value!r}'>{html.escape(_fmt(value))}</td>"
    return f"<td>{html.escape(_fmt(value))}</td>"


def table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[Column],
    total: int | None = None,
    full: str = "",
    table_id: str = "",
    row_ids: Sequence[str] | None = None,
) -> str:
    """A sortable table of ``rows`` (dicts of cell values, see :func:`cell`) with ``columns`` given as
    ``(key, heading)`` or ``(key, heading, what the column holds)`` (a short heading, its meaning in the
    tooltip), inside a box that scrolls sideways, with a visible cue, should the table be wider than
    the page (the page's script adds the cue; headings and cells wrap first).

    ``total``: the size of the whole table when ``rows`` are its first rows only; a visible line then
    says "first K of M rows" and, with ``full``, where the whole table is. ``row_ids``: an ``id`` per
    row (a link target), or none.
    """
    total = len(rows) if total is None else total
    if not rows or total == 0:
        return "<p>(none)</p>"
    head = "".join(
        f"<th title='{html.escape(c[2] + '; ' if len(c) > 2 else '')}click to sort'>{html.escape(c[1])}</th>"
        for c in columns
    )
    body = []
    for i, r in enumerate(rows):
        rid = f" id='{html.escape(row_ids[i])}'" if row_ids else ""
        body.append(f"<tr{rid}>" + "".join(cell(r.get(c[0], "")) for c in columns) + "</tr>")
    tid = f" id='{html.escape(table_id)}'" if table_id else ""
    out = (
        f"<div class='scroll'><table class='sortable'{tid}><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )
    if len(rows) < total:
        where = f"; full table in {html.escape(full)}" if full else ""
        out += f"<p class='truncated'>(first {len(rows):,} of {total:,} rows{where})</p>"
    return out


def records_table(records: Sequence[Any], columns: Sequence[str], full: str) -> str:
    """The first :data:`HTML_MAX_ROWS` records (only those turned into dicts) as a sortable table with
    their own column names, and the line giving the total and the file that holds them all."""
    shown = [r.to_dict() for r in records[:HTML_MAX_ROWS]]
    return table(shown, [(c, c) for c in columns], total=len(records), full=full)
