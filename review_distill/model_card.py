"""A package's model card: README.md in Markdown, written from the run's metrics and records, which
`spacy package` ships in the wheel as its long description. The method: docs/method.md, "The packages"."""
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .scores import CALIBRATION_BINS
from .tasks import Task, star_ranges

# The normal quantile of a two-sided 95% interval.
Z_95 = 1.959964
# The scores in the card's table, by their keys in the metrics files; MAE and within-one for ordered tasks.
CARD_SCORES = {"macro_f1": "macro-F1", "ece": "ECE", "brier": "Brier", "mae": "MAE", "within_one": "within one"}


@dataclass
class CardFigures:
    """What the card says of one language's package, as the run recorded it."""
    language: str  # its name, e.g. German
    data: List[str]  # where its reviews and the teacher's came from, a line each
    domain: str  # what its reviews are, e.g. "product reviews from Amazon (MARC)"
    sizes: Dict[str, int]  # the split sizes of preprocess's stats.json
    student: str  # the student's name, e.g. student_bow
    student_scores: Dict  # its metrics file's scores of the language
    teacher_scores: Optional[Dict]  # None where the language has no gold test set
    words_per_second: Optional[Dict[str, float]]  # {"student": ..., "teacher": ...}; None: not benchmarked
    machine: str  # the benchmark's CPU
    teacher_bytes: int
    pipeline_bytes: int
    # The run's out-of-domain sets of the language: name, domain, n, student's and teacher's accuracy.
    out_of_domain: List[Dict] = field(default_factory=list)


def wilson_interval(accuracy: float, n: int, z: float = Z_95) -> Tuple[float, float]:
    """The Wilson score interval of a proportion observed in n trials."""
    centre = (accuracy + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(accuracy * (1 - accuracy) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def describe_labels(task: Task) -> str:
    """The task's labels, with the stars of each for a task of stars."""
    if task.name == "stars":
        return "1, 2, 3, 4 and 5, the review's stars"
    ranges = star_ranges(task)
    return ", ".join(f"{label} ({ranges[label]} stars)" if ranges else label for label in task.labels)


def score_rows(figures: CardFigures) -> List[str]:
    """The test table: accuracy with its 95% interval, the other scores, and the number of reviews."""
    columns = [key for key in CARD_SCORES if key in figures.student_scores]
    rows = [f"| model | accuracy (95% CI) | {' | '.join(CARD_SCORES[key] for key in columns)} | reviews |",
            "| --- " * (len(columns) + 3) + "|"]
    models = [(f"student (`{figures.student}`)", figures.student_scores, ", zero-label"),
              ("teacher", figures.teacher_scores, ", zero-shot")]
    for model, scores, unseen in models:
        if scores is None:
            continue
        model += unseen if scores.get("zero_label") else ""
        low, high = wilson_interval(scores["accuracy"], scores["n"])
        cells = [f"{scores['accuracy']:.3f} ({low:.3f}–{high:.3f})",
                 *(f"{scores[key]:.3f}" if key in scores else "–" for key in columns), f"{scores['n']:,}"]
        rows.append(f"| {model} | {' | '.join(cells)} |")
    return rows


def scores_section(figures: CardFigures) -> List[str]:
    """How well the student and the teacher do on the language's held-out reviews."""
    student = figures.student_scores
    if student.get("labels") == "teacher-labelled dev":
        said = (f"There are no gold-labelled {figures.language} test reviews: the student's figures are its agreement "
                f"with the teacher on {student['n']:,} held-out reviews the teacher labelled.")
    else:
        said = f"On the {student['n']:,} gold-labelled {figures.language} test reviews."
    teacher = "" if figures.teacher_scores is not None else " The teacher has no gold test figures here."
    return ["## Test results", "", said + teacher + " The interval is the Wilson score interval of the accuracy; "
            f"ECE (expected calibration error, {CALIBRATION_BINS} bins) and Brier score measure how well the "
            "probabilities are calibrated (lower is better).", "", *score_rows(figures)]


def speed_section(figures: CardFigures) -> List[str]:
    """Words per second of student and teacher, their ratio, and the sizes."""
    lines = ["## Speed and size", ""]
    speed = figures.words_per_second
    if speed is None:
        lines.append(f"Not benchmarked: the benchmark times the languages with gold labels only, not "
                     f"{figures.language}.")
    else:
        lines.append(f"- Student: {speed['student']:,.0f} words/s; teacher: {speed['teacher']:,.0f} words/s: "
                     f"{speed['student'] / speed['teacher']:,.0f}× the teacher's (one process, {figures.machine}).")
    lines += [f"- Pipeline: {figures.pipeline_bytes / 1e6:.1f} MB on disk; the teacher: "
              f"{figures.teacher_bytes / 1e6:.0f} MB."]
    return lines


def model_card(package: str, meta: Dict, task: Task, figures: CardFigures) -> str:
    """The card of `package` (e.g. de_review_sentiment), whose meta.json is `meta`."""
    sizes = ", ".join(f"{split} {n:,}" for split, n in figures.sizes.items())
    limits = [f"- Made for {figures.domain}, in {figures.language}."]
    limits += [f"- Out of its domain, on {ood['n']:,} {ood['domain']} (`{ood['name']}`, as many of each label): "
               f"accuracy {ood['student']:.3f}, the teacher's {ood['teacher']:.3f}." for ood in figures.out_of_domain]
    limits.append(("- Not tested on other domains or other languages" if not figures.out_of_domain else
                   "- Not tested on other domains than these or on other languages") +
                  ": out of its domain accuracy can be far lower than the figures above.")
    if "zero_label" in meta:
        limits.append(f"- Zero-label: {meta['zero_label']}")
    sources = [f"- {source['name']}: {source['license']}" for source in meta["sources"]]
    lines = [
        f"# {package} {meta['version']}", "", meta["description"], "",
        "## Data", "",
        *(f"- {line}" for line in figures.data),
        f"- Language: {figures.language}.",
        f"- Task: {task.name}; labels {describe_labels(task)}.",
        f"- Reviews per split: {sizes}.",
        f"- Teacher: {meta['teacher'].rstrip('.')}.", "",
        *scores_section(figures), "",
        *speed_section(figures), "",
        "## Intended use and limits", "", *limits, "",
        "## Licence", "", f"Package licence: {meta['license']}.", "", "Sources:", "", *sources, "",
        meta["data_caveat"], "",
        "## Use", "",
        "```python", "import spacy", "", f'nlp = spacy.load("{package}")', 'print(nlp("A review.").cats)', "```", "",
        "Why it decided so, each n-gram's contribution:", "",
        "```bash", f'python -m {package} "A review."', "```", "",
        "A whole CSV or JSON-lines file, each row with every label's probability and the predicted label added "
        "(rows that cannot be scored are named by line and left out):", "",
        "```bash", f"python -m {package} score reviews.csv --text-column text > scored.csv", "```", "",
    ]
    return "\n".join(lines)
