"""Notebook displays: typed pandas DataFrames of records, and the short HTML summaries of ``_repr_html_``.

Every table the package hands a notebook is a :class:`pandas.DataFrame` whose columns are those of the
matching CSV file, typed from the record's annotations (so an empty table has the same columns and
dtypes as a full one). The summaries are small by construction: a few facts and at most a few short
tables, whatever the size of what they describe (the whole data stays in the DataFrames and files).
pandas is imported on first use, so importing the package stays quick.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from remixmusic._util.render import _fmt

if TYPE_CHECKING:
    import pandas as pd

_DTYPES: dict[str, Any] = {
    "int": "int64",
    "float": "float64",
    "bool": "bool",
    "str": str,
    "int | None": "Int64",  # pandas' nullable integer: a missing value is <NA>
    "float | None": "float64",  # a missing value is NaN
}
"""pandas dtype of a record field, by its annotation (as written, since annotations are strings)."""

FACT_CHARS = 160
"""Characters of one value in a summary at most (a longer one is cut with an ellipsis)."""


def record_frame(records: Sequence[Any], cls: type) -> pd.DataFrame:
    """The dataclass ``records`` (instances of ``cls``) as a DataFrame: one column per field, in field
    order, typed by its annotation (``int`` int64, ``float`` float64, ``bool`` bool, ``str`` str,
    ``int | None`` nullable Int64, ``float | None`` float64 with NaN; anything else inferred)."""
    import pandas as pd

    data = {
        f.name: pd.Series([getattr(r, f.name) for r in records], dtype=_DTYPES.get(str(f.type)))
        for f in fields(cls)
    }
    return pd.DataFrame(data, columns=list(data))


def dict_frame(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], dtypes: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """``rows`` (dicts) as a DataFrame with exactly ``columns``, in order (a missing key is NaN), typed by
    ``dtypes`` (column -> pandas dtype) where given and inferred elsewhere."""
    import pandas as pd

    types = dtypes or {}
    data = {c: pd.Series([r.get(c) for r in rows], dtype=types.get(c)) for c in columns}
    return pd.DataFrame(data, columns=list(columns))


def summary_html(title: str, facts: Sequence[tuple[str, Any]], body: str = "", hint: str = "") -> str:
    """A short notebook summary: ``title``, a two-column table of ``facts`` (name, value; each value cut
    at :data:`FACT_CHARS` characters), then ``body`` (HTML, e.g. a small table) and a ``hint`` line (text,
    e.g. where the full tables are)."""
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td style='text-align:left'>{html.escape(short(_fmt(v)))}</td></tr>"
        for k, v in facts
    )
    note = f"<p style='font-size:smaller'>{html.escape(hint)}</p>" if hint else ""
    return f"<div><p><strong>{html.escape(title)}</strong></p><table>{rows}</table>{body}{note}</div>"


def small_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], digits: int = 3) -> str:
    """A compact HTML table of ``rows`` (numbers rounded to ``digits`` significant digits) for a summary;
    the caller keeps ``rows`` short."""
    head = "".join(f"<th style='text-align:left'>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td style='text-align:left'>{html.escape(short(_cell(r.get(c), digits)))}</td>" for c in columns
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def short(text: str, limit: int = FACT_CHARS) -> str:
    """``text`` cut to ``limit`` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(value: Any, digits: int) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.{digits}g}"  # NaN is empty
    return _fmt(value) if value is not None else ""
