"""report.html: the analysis as one self-contained page a musicologist can read and listen to.

:func:`report_page` builds it from an :class:`~remixmusic.novelty.report.AnalysisReport` (which calls it
from ``html()`` and ``save()``): a first screen in plain language (:mod:`.words`), a sortable summary
per piece and the reference pieces drawn on, each query piece's remix map with an in-page player and its
passages beside their sources (:mod:`.details`, :mod:`.music`), then the statistics, long tables
(:mod:`.tables`) and settings. Styles and script (``page.css``, ``page.js``) ship beside the modules and
are inlined: the page loads nothing from anywhere.
"""

from remixmusic.novelty.page.build import report_page
from remixmusic.novelty.page.music import PAIR_NOTE_LIMIT, PLAYER_NOTE_LIMIT
from remixmusic.novelty.page.tables import HTML_MAX_ROWS, HTML_MAX_SOURCE_ROWS

__all__ = ["HTML_MAX_ROWS", "HTML_MAX_SOURCE_ROWS", "PAIR_NOTE_LIMIT", "PLAYER_NOTE_LIMIT", "report_page"]
