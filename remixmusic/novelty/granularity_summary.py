"""Groups on the recombination granularity scale: the group summary of an analysis report.

A group (the query, the human control) is placed by the estimate of its mean curves
(:meth:`~remixmusic.novelty.granularity.GranularityCalibration.estimate`: the mixture of a curve and its
chance curve is linear, so the mean curves' mixture is the group's), with bootstrap intervals over its
pieces or whole tune groups, and drawn over the calibration family for ``report.html``.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from remixmusic.errors import RemixError
from remixmusic.novelty.granularity import GranularityCalibration


@dataclass
class GroupGranularity:
    """One group's place on the granularity scale: ``n_pieces``, its ``mean_curve`` and
    ``mean_chance`` (over the calibration's grid), the estimate of those (``weights``: chance then the
    members, ``share``, ``bars``, ``level``), bootstrap 95% intervals ``share_ci`` and ``bars_ci``
    (resampling pieces, or whole tune groups when labels are given; ``bars_ci`` is NaN for a group whose
    share is below ``min_share``, whose granularity is not read), and ``levels``: how many of its pieces
    sit at each level."""

    n_pieces: int
    mean_curve: np.ndarray
    mean_chance: np.ndarray
    weights: np.ndarray
    share: float
    bars: float
    level: str
    share_ci: tuple[float, float]
    bars_ci: tuple[float, float]
    levels: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("mean_curve", "mean_chance", "weights"):
            out[name] = getattr(self, name).tolist()
        return out


@dataclass
class GranularitySummary:
    """The granularity section of an analysis report: the ``calibration`` family and each group's
    :class:`GroupGranularity` (``query``, ``control``: the control without leaked pieces)."""

    calibration: GranularityCalibration
    groups: dict[str, GroupGranularity]

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (``report.json``'s ``granularity``)."""
        return {
            "calibration": self.calibration.to_dict(),
            "groups": {g: v.to_dict() for g, v in self.groups.items()},
        }

    def lines(self) -> list[str]:
        """One line of text per group, for the terminal: its share of notes in an exact match of a bar or
        more (the mean curve at 1 bar, as plotted) and its shuffled curve there, then the patchwork
        estimate's weight with its interval."""
        out = []
        one = int(np.argmin(np.abs(np.asarray(self.calibration.grid, np.float64) - 1.0)))
        for g, v in self.groups.items():
            ci = f"[{v.bars_ci[0]:.2g}, {v.bars_ci[1]:.2g}]"
            bars = f"at granularity {v.bars:.2g} bars {ci}" if math.isfinite(v.bars_ci[0]) else ""
            out.append(
                f"{g} (n={v.n_pieces}): {v.level}; notes in exact shared stretches of a bar or more "
                f"(any match, stock included; not the copied share) {float(v.mean_curve[one]):.2f}, "
                f"shuffled {float(v.mean_chance[one]):.2f}; patchwork weight {v.share:.2f} "
                f"[{v.share_ci[0]:.2f}, {v.share_ci[1]:.2f}] {bars}".rstrip()
            )
        return out

    def plot(self, ax: Any = None, colors: Mapping[str, str] | None = None) -> Any:
        """The groups' mean coverage-by-span curves (solid) and chance curves (dotted) over the
        patchwork members (dashed grey): a matplotlib ``Figure`` drawn without pyplot state."""
        from remixmusic._util.figures import new_figure

        fig = ax.figure if ax is not None else new_figure((6.5, 3.8))
        ax = ax if ax is not None else fig.add_subplot(111)
        cal = self.calibration
        shades = np.linspace(0.75, 0.3, len(cal.members))
        for member, curve, shade in zip(cal.members, cal.curves, shades, strict=True):
            label = f"{member}-bar patchwork"
            ax.plot(cal.grid, curve, color=str(shade), linestyle="--", linewidth=1, label=label)
        palette = {"query": "#d62728", "control": "#1f77b4", **(colors or {})}
        for g, v in self.groups.items():
            color = palette.get(g, "black")
            ax.plot(cal.grid, v.mean_curve, color=color, linewidth=2.2, label=f"{g}: {v.level}")
            ax.plot(cal.grid, v.mean_chance, color=color, linewidth=1.2, linestyle=":", label=f"{g} shuffled")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("span of the longest covering match, at least (bars)")
        ax.set_ylabel("fraction of notes")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, frameon=False, loc="upper right")
        ax.set_title("Recombination granularity against pure-recombination references", fontsize=10)
        fig.tight_layout()
        return fig


def summarize(
    calibration: GranularityCalibration,
    curves: Mapping[str, np.ndarray],
    tune_groups: Mapping[str, Sequence[str]] | None = None,
    n_boot: int = 500,
    seed: int = 0,
) -> GranularitySummary:
    """Place each group on the scale: ``curves``, group -> pieces x 2 x grid (each piece's curve and
    chance curve, :func:`piece_curves`; pieces with NaN and empty groups left out). A group's estimate is
    that of its mean curves; its intervals come from ``n_boot`` resamples of its pieces, or of whole
    tune groups where ``tune_groups`` gives a label per piece (``""``: a group of its own), each group
    drawn from its own generator (``seed`` and the group's name).

    Raises:
        RemixError: curves not pieces x 2 x the calibration's grid, or labels not one per piece.
    """
    out: dict[str, GroupGranularity] = {}
    shape = (2, len(calibration.grid))
    for g, raw in curves.items():
        # each group's own stream, from the seed and its name: the control's interval does not depend on
        # the query analysed beside it
        rng = np.random.default_rng([seed, zlib.crc32(g.encode())])
        raw = np.asarray(raw, np.float64)
        if raw.size and raw.shape[1:] != shape:
            raise RemixError(f"granularity: group {g!r}'s curves are {raw.shape}, not pieces x {shape}")
        raw = raw.reshape(-1, *shape)
        labels = list((tune_groups or {}).get(g) or [])
        if labels and len(labels) != len(raw):
            raise RemixError(f"granularity: {len(labels)} tune-group labels for {len(raw)} pieces of {g!r}")
        keep = ~np.isnan(raw).any(axis=(1, 2))
        c = raw[keep]
        if len(c) == 0:
            continue
        ids = _cluster_ids([lab for lab, k in zip(labels, keep, strict=True) if k] if labels else [], len(c))
        n_clusters = int(ids.max()) + 1
        sums = np.zeros((n_clusters, *shape))
        np.add.at(sums, ids, c)
        counts = np.bincount(ids, minlength=n_clusters).astype(np.float64)
        draws = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
        flat = (draws + n_clusters * np.arange(n_boot)[:, None]).ravel()
        times = np.bincount(flat, minlength=n_boot * n_clusters).reshape(n_boot, n_clusters).astype(float)
        boot_sums = (times @ sums.reshape(n_clusters, -1)).reshape(n_boot, *shape)  # times: draws per cluster
        boot_mean = boot_sums / (times @ counts)[:, None, None]
        boot = calibration.estimate(boot_mean[:, 0], boot_mean[:, 1])
        mean = c.mean(axis=0)
        fit = calibration.estimate(mean[0], mean[1])
        read = fit.share[0] >= calibration.config.min_share
        per_piece = calibration.estimate(c[:, 0], c[:, 1])
        levels, n_at = np.unique(per_piece.level, return_counts=True)
        out[g] = GroupGranularity(
            n_pieces=len(c),
            mean_curve=mean[0],
            mean_chance=mean[1],
            weights=fit.weights[0],
            share=float(fit.share[0]),
            bars=float(fit.bars[0]),
            level=fit.level[0],
            share_ci=_interval(boot.share),
            bars_ci=_interval(boot.bars) if read else (math.nan, math.nan),
            levels={str(k): int(n) for k, n in zip(levels, n_at, strict=True)},
        )
    return GranularitySummary(calibration, out)


def _cluster_ids(labels: Sequence[str], n: int) -> np.ndarray:
    """Resampling unit per piece: its tune-group label (``""``: its own unit), or itself without labels."""
    if not labels:
        return np.arange(n)
    keys = [lab if lab else f"\0{i}" for i, lab in enumerate(labels)]
    _, ids = np.unique(np.asarray(keys, dtype=str), return_inverse=True)
    return ids.ravel()


def _interval(values: np.ndarray) -> tuple[float, float]:
    v = values[~np.isnan(values)]
    if len(v) == 0:
        return (math.nan, math.nan)
    lo, hi = np.quantile(v, [0.025, 0.975])
    return (float(lo), float(hi))
