"""Figures that show themselves in a notebook, drawn without pyplot.

The plots are drawn on bare :class:`matplotlib.figure.Figure` objects, so no global pyplot state is
touched (report pages draw hundreds of them) and the session's backend is left alone. Jupyter shows a
bare Figure as a picture only when its inline backend has registered a formatter for figures, which
happens when pyplot is imported; otherwise it prints ``<Figure size 1100x360 with 1 Axes>``. An
:class:`InlineFigure` carries its own ``_repr_png_``, so it displays as a picture in any notebook.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from remixmusic._util.render import png_bytes


class InlineFigure(Figure):
    """A matplotlib Figure that Jupyter displays as a PNG picture (and ``repr`` as one line)."""

    def _repr_png_(self) -> bytes:
        """The figure rendered to PNG (the Agg canvas, whatever the session's backend)."""
        return png_bytes(self)


def new_figure(figsize: tuple[float, float]) -> InlineFigure:
    """A new figure of ``figsize`` inches, outside pyplot, that displays inline in Jupyter."""
    return InlineFigure(figsize=figsize)
