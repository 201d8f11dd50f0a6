"""The note model (:class:`Piece`, :class:`Track` on a 12-steps-per-beat grid) and melodic-line extraction."""
