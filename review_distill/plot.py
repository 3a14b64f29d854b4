"""The report's pictures: reports/accuracy_vs_speed.png, mean test accuracy against mean words/s,
with every label placed where it overlaps no marker, line or other label; and for a task of more
than two labels, each language's confusion matrices of the teacher and the default student."""
from pathlib import Path
from typing import Dict, List, Tuple

from .files import atomic_path
from .models import BASELINE, STUDENT, TEACHER, TOKENIZER, name_of
from .summary import table_models


def _compact(value: float) -> str:
    """Words/s for a plot label: 1.2M, 416k, 850."""
    return f"{value / 1e6:.3g}M" if value >= 1e6 else f"{value / 1e3:.3g}k" if value >= 1e3 else f"{value:.0f}"


# Where a marker's label may go, relative to the marker, in points: nearest first.
_AROUND = [(dx * r, dy * r * 0.8) for r in (7, 18, 30, 45, 60, 80)
           for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))]
# Where a horizontal line's label may go, relative to its left end: just above or below the line first.
_ALONG = [(4, dy) for dy in (2, -2, 12, -12, 22, -22, 32, -32)]
_LABEL_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
# A model's colour and marker; any other model gets the default, DEFAULT_STYLE.
DEFAULT_STYLE = ("#34495e", "o")
STYLE = {
    TEACHER: ("#c0392b", "D"),
    BASELINE: ("#7f8c8d", "s"),
    "baseline_ensemble": ("#7f8c8d", "^"),
    "student_bow": ("#2471a3", "o"),
    "student_ensemble": ("#2471a3", "v"),
    "student_hard": ("#1e8449", "o"),
}


def _annotate(ax, text: str, xy, offset: Tuple[float, float], fontsize: float, color: str):
    dx, dy = offset
    ha = "left" if dx > 0 else "right" if dx < 0 else "center"
    va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
    arrow = {"arrowstyle": "-", "color": "#888888", "lw": 0.7} if (dx * dx + dy * dy) ** 0.5 > 10 else None
    return ax.annotate(text, xy, xytext=offset, textcoords="offset points", ha=ha, va=va, fontsize=fontsize,
                       color=color, arrowprops=arrow, bbox=_LABEL_BOX, zorder=4)


def _text_box(annotation, renderer):
    """The display box of an annotation's text (its leader line left out), with a margin."""
    from matplotlib.text import Text

    annotation.update_positions(renderer)
    return Text.get_window_extent(annotation, renderer).expanded(1.06, 1.25)


def _place_label(ax, renderer, text: str, xy, obstacles: List, fontsize: float, color: str, candidates=_AROUND):
    """Annotate xy with text at the first candidate offset where it overlaps no obstacle and stays
    in the axes (with a leader line when it is not next to xy), else where it overlaps least; add
    its box to the obstacles and return the annotation."""
    best = None
    for offset in candidates:
        annotation = _annotate(ax, text, xy, offset, fontsize, color)
        box = _text_box(annotation, renderer)
        inside = ax.bbox.x0 <= box.x0 and box.x1 <= ax.bbox.x1 and ax.bbox.y0 <= box.y0 and box.y1 <= ax.bbox.y1
        overlaps = sum(box.overlaps(other) for other in obstacles)
        if inside and not overlaps:
            obstacles.append(box)
            return annotation
        if best is None or overlaps + (0 if inside else 100) < best[0]:
            best = (overlaps + (0 if inside else 100), offset)
        annotation.remove()
    annotation = _annotate(ax, text, xy, best[1], fontsize, color)
    obstacles.append(_text_box(annotation, renderer))
    return annotation


def plot_accuracy_vs_speed(summary: Dict, path: Path) -> List:
    """Mean test accuracy against mean words/s (log scale), one labelled marker per benchmarked
    model, the bare tokenizer's words/s as a dashed vertical line (the ceiling), the TF-IDF + LR
    peers (not benchmarked) as dotted horizontal lines. Returns the labels' annotations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wps = summary["mean_words_per_second"]
    points = [m for m in table_models(summary) if m in wps]
    peers = [m for m in table_models(summary) if m not in wps]
    fig, ax = plt.subplots(figsize=(9, 5.6), dpi=150)
    _draw_markers(ax, summary, points, peers)
    fig.tight_layout()
    fig.canvas.draw()
    labels = _label_markers(ax, fig.canvas.get_renderer(), summary, points, peers)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return labels


def _draw_markers(ax, summary: Dict, points: List[str], peers: List[str]) -> None:
    """The axes, the markers of the benchmarked models and the lines of the ceiling and the peers."""
    default = summary["default_student"]
    accuracy, wps = summary["mean_accuracy"], summary["mean_words_per_second"]
    ceiling = wps[TOKENIZER]
    xs = [wps[m] for m in points] + [ceiling]
    ys = [accuracy[m] for m in points + peers]
    ax.set_xscale("log")
    ax.set_xlim(min(xs) / 4, max(xs) * 4)
    span = max(max(ys) - min(ys), 0.04)
    ax.set_ylim(min(ys) - 0.3 * span, max(ys) + 0.3 * span)
    ax.grid(True, which="major", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
    ax.axvline(ceiling, color="#555555", ls="--", lw=1)
    for m in peers:
        ax.axhline(accuracy[m], color="#8e44ad", ls=":", lw=1.2)
    for m in points:
        color, marker = STYLE.get(m, DEFAULT_STYLE)
        size = 150 if m == default else 70
        ax.scatter(wps[m], accuracy[m], s=size, color=color, marker="*" if m == default else marker, zorder=3,
                   edgecolors="white", linewidths=0.6)
    ax.set_xlabel("words per second (log scale; nlp.pipe, 1 process, mean over languages)", fontsize=11)
    ax.set_ylabel("mean test accuracy", fontsize=11)
    ax.set_title(f"Accuracy against speed, {len(summary['languages'])} languages "
                 f"({', '.join(summary['languages'])})", fontsize=12)
    ax.tick_params(labelsize=10)


def _label_markers(ax, renderer, summary: Dict, points: List[str], peers: List[str]) -> List:
    """A label per marker and line, each placed where it overlaps nothing drawn before it."""
    from matplotlib.transforms import Bbox

    default = summary["default_student"]
    accuracy, wps = summary["mean_accuracy"], summary["mean_words_per_second"]
    ceiling = wps[TOKENIZER]
    to_display = ax.transData.transform
    obstacles = []
    for m in points:  # the markers themselves
        x, y = to_display((wps[m], accuracy[m]))
        obstacles.append(Bbox.from_extents(x - 7, y - 7, x + 7, y + 7))
    labels = []
    # Fixed labels first: the ceiling line's and the peers' lines'.
    top = ax.get_ylim()[1]
    labels.append(_annotate(ax, f"bare tokenizer: {_compact(ceiling)} words/s", (ceiling, top), (-4, -4), 9, "#555555"))
    obstacles.append(_text_box(labels[-1], renderer))
    left = ax.get_xlim()[0]
    for m in sorted(peers, key=lambda m: -accuracy[m]):
        labels.append(_place_label(ax, renderer, f"{name_of(m)}: {accuracy[m]:.3f}", (left, accuracy[m]),
                                   obstacles, 9, "#8e44ad", _ALONG))
    for m in sorted(points, key=lambda m: -accuracy[m]):
        color = STYLE.get(m, DEFAULT_STYLE)[0]
        labels.append(_place_label(ax, renderer, f"{name_of(m, default)}\n{accuracy[m]:.3f}, {_compact(wps[m])} words/s",
                                   (wps[m], accuracy[m]), obstacles, 9.5, color))
    return labels


def plot_confusion(summary: Dict, lang: str, path: Path) -> None:
    """The teacher's and the default student's confusion matrices on lang's test set, side by side:
    a row per gold label, a column per predicted one (in the order of the task's labels), each cell
    its count and share of the row, shaded by that share."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = summary["task"]["labels"]
    models = [(TEACHER, name_of(TEACHER)), (STUDENT, f"default student ({summary['default_student']})")]
    size = 1.0 + 0.7 * len(labels)
    fig, axes = plt.subplots(1, len(models), figsize=(2 * size + 1, size + 1.2), dpi=150)
    for ax, (model, title) in zip(axes, models):
        counts = summary["confusion"][model][lang]
        shares = [[count / max(sum(row), 1) for count in row] for row in counts]
        ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
        for i, row in enumerate(counts):
            for j, count in enumerate(row):
                ax.text(j, i, f"{count}\n{shares[i][j]:.0%}", ha="center", va="center", fontsize=8,
                        color="white" if shares[i][j] > 0.6 else "#222222")
        ax.set_xticks(range(len(labels)), labels, fontsize=9)
        ax.set_yticks(range(len(labels)), labels, fontsize=9)
        ax.set_xlabel("predicted", fontsize=10)
        ax.set_ylabel("gold", fontsize=10)
        ax.set_title(title, fontsize=10)
    fig.suptitle(f"{lang}: test confusion matrices ({summary['task']['name']})", fontsize=11)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
