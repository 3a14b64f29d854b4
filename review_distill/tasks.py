"""The label sets a run can learn (the `task` var) and how a file's raw labels map to them.

binary: NEG (1-2 stars) and POS (3-5 stars); three_way: NEG (1-2), NEU (3) and POS (4-5); stars: 1 to 5;
categories: the distinct values of the file's label column, as they are. The first three are
ordered (`scale`, low to high); categories are not. The method: docs/method.md, "Tasks"."""
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

import srsly

from .errors import DataError, MissingInput
from .files import write_json

TASK_NAMES = ("binary", "three_way", "stars", "categories")
# How a file's label column is written: stars0 0-4 (stars - 1, as in the mirror), stars 1-5, or
# labels: names as they are (and for binary and three_way the common spellings of polarity).
LABEL_SCHEMES = ("stars0", "stars", "labels")
# The labels in the order of doc.cats; binary keeps the order of the runs before tasks existed.
FIXED_LABELS = {"binary": ("POS", "NEG"), "three_way": ("NEG", "NEU", "POS"), "stars": ("1", "2", "3", "4", "5")}
SCALES = {"binary": ("NEG", "POS"), "three_way": ("NEG", "NEU", "POS"), "stars": ("1", "2", "3", "4", "5")}
# The label of a number of stars (1-5) in each ordered task.
STAR_LABELS = {"binary": ("NEG", "NEG", "POS", "POS", "POS"), "three_way": ("NEG", "NEG", "NEU", "POS", "POS"),
               "stars": SCALES["stars"]}
# Common spellings of polarity, case-insensitive, for label_scheme=labels; 0 is NEU where -1 is NEG.
POLARITY = {"pos": "POS", "positive": "POS", "1": "POS", "+1": "POS", "neg": "NEG", "negative": "NEG",
            "-1": "NEG", "neu": "NEU", "neutral": "NEU"}


@dataclass(frozen=True)
class Task:
    """A label set: `labels` in the order of doc.cats, `scale` the same labels low to high for an
    ordered task (empty for categories)."""
    name: str
    labels: Tuple[str, ...]
    scale: Tuple[str, ...] = ()

    @property
    def ordered(self) -> bool:
        return bool(self.scale)

    def rank(self, label: str) -> int:
        """The label's step on the scale (0 for the lowest)."""
        return self.scale.index(label)

    def to_binary(self, label: str) -> str:
        """A star label collapsed to the binary task's (1-2 stars NEG, 3-5 POS)."""
        return STAR_LABELS["binary"][self.rank(label)]


# What the vars set to `auto` become, by the number of labels (docs/method.md, "Defaults per task"):
# with two, the hour-long run's settings; with more, a teacher that trains every layer above the
# embeddings, with attention dropout, and a student that learns from the whole pool and synthetic texts.
@dataclass(frozen=True)
class Defaults:
    teacher_frozen_fraction: float
    teacher_frozen_embeddings: str
    teacher_attention_dropout: float
    pool_size: int
    augmented_size: int


TWO_LABEL_DEFAULTS = Defaults(teacher_frozen_fraction=0.5, teacher_frozen_embeddings="all",
                              teacher_attention_dropout=0.0, pool_size=5000, augmented_size=0)
MANY_LABEL_DEFAULTS = Defaults(teacher_frozen_fraction=0.0, teacher_frozen_embeddings="all",
                               teacher_attention_dropout=0.1, pool_size=-1, augmented_size=6000)
# The values a setting that is not a number may take (teacher_frozen_embeddings: freeze_encoder.v1's `embeddings`).
SETTING_CHOICES = {"teacher_frozen_embeddings": ("all", "words")}


def task_setting(value: str, name: str, task: Task) -> Union[int, float, str]:
    """The var `name` set to `value`: a number or one of its `SETTING_CHOICES`, or `auto` for the
    task's default (`Defaults`)."""
    default = getattr(TWO_LABEL_DEFAULTS if len(task.labels) == 2 else MANY_LABEL_DEFAULTS, name)
    if value.strip() == "auto":
        return default
    if name in SETTING_CHOICES:
        if value not in SETTING_CHOICES[name]:
            raise DataError(f"{name} must be auto, {' or '.join(SETTING_CHOICES[name])}, got {value!r}")
        return value
    try:
        return type(default)(value)
    except ValueError:
        kind = "a whole number" if isinstance(default, int) else "a number"
        raise DataError(f"{name} must be auto or {kind}, got {value!r}") from None


def star_ranges(task: Task) -> Dict[str, str]:
    """Each label's stars in a task of stars, e.g. binary {"POS": "3-5", "NEG": "1-2"}; empty for categories."""
    if task.name not in STAR_LABELS:
        return {}
    stars = {label: [n for n, star_label in enumerate(STAR_LABELS[task.name], 1) if star_label == label]
             for label in task.labels}
    return {label: str(n[0]) if len(n) == 1 else f"{n[0]}-{n[-1]}" for label, n in stars.items()}


def check_task_name(name: str) -> None:
    if name not in TASK_NAMES:
        raise DataError(f"Unknown task '{name}': use one of {', '.join(TASK_NAMES)}")


def top_label(probabilities: Dict[str, float], labels: Sequence[str]) -> str:
    """The most probable of `labels`; of equally probable ones, the first (for binary, POS at p(POS) = 0.5)."""
    return max(labels, key=probabilities.__getitem__)


def make_task(name: str, labels: Iterable[str] = ()) -> Task:
    """The task `name`; for categories, over the distinct `labels` of the data (sorted), two at least."""
    check_task_name(name)
    if name != "categories":
        return Task(name, FIXED_LABELS[name], SCALES[name])
    labels = tuple(sorted(set(labels)))
    if len(labels) < 2:
        raise DataError(f"The task categories needs two labels at least; the labelled reviews have "
                        f"{'only ' + repr(labels[0]) if labels else 'none'}: a classifier has nothing to choose")
    return Task(name, labels)


def to_label(value: object, task: str, scheme: str) -> Optional[str]:
    """The task's label of a raw label value, or None for an empty one (an unlabelled review); raise
    ValueError for a value the task and scheme cannot read."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if scheme in ("stars0", "stars"):
        low, high = (0, 4) if scheme == "stars0" else (1, 5)
        stars = _as_int(value)
        if stars is None or not low <= stars <= high:
            hint = "; a column of names needs label_scheme=labels" if isinstance(value, str) and _as_int(value) is None else ""
            raise ValueError(f"label must be an integer {low}-{high} ({scheme}), got {value!r}{hint}")
        stars += 1 - low
        return str(stars) if task == "categories" else STAR_LABELS[task][stars - 1]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"label must be a string or number, got {value!r}")
    text = str(_as_int(value) if _as_int(value) is not None else value).strip()
    if task == "categories":
        return text
    if task == "stars":
        raise ValueError(f"the task stars needs a stars column: set label_scheme to stars (1-5) or stars0 (0-4), "
                         f"got {value!r}")
    label = POLARITY.get(text.casefold())
    if label is None and text == "0":
        label = "NEG" if task == "binary" else "NEU"
    if label is None or label not in FIXED_LABELS[task]:
        spellings = "0/1, -1/1, neg/pos, negative/positive" if task == "binary" else \
            "-1/0/1, neg/neu/pos, negative/neutral/positive"
        raise ValueError(f"the task {task} reads labels {spellings}, got {value!r}; for labels of your own set "
                         "task=categories")
    return label


def check_polarity_values(values: Iterable[object], task: str, scheme: str) -> None:
    """Raise ValueError where a file's numeric polarity labels mean another task: -1, 0 and 1 are
    three-way; 0 and 1 without -1 are binary."""
    if scheme != "labels" or task not in ("binary", "three_way"):
        return
    numbers = {_as_int(value) for value in values} - {None}
    if task == "binary" and {-1, 0} <= numbers:
        raise ValueError("the labels -1, 0 and 1 are three-way sentiment: set task=three_way")
    if task == "three_way" and 0 in numbers and -1 not in numbers and numbers <= {0, 1}:
        raise ValueError("the labels 0 and 1 are binary: set task=binary (three_way reads -1/0/1)")


def write_task(path: Path, task: Task) -> None:
    write_json(path, {"task": task.name, "labels": list(task.labels), "scale": list(task.scale)})


def read_task(path: Path, step: str = "preprocess") -> Task:
    """The task that `step` wrote (data: assets/reviews/task.json, preprocess: corpus/splits/task.json)."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"Missing file {path}: run `spacy project run {step}` first")
    data: Dict = srsly.read_json(path)
    return Task(data["task"], tuple(data["labels"]), tuple(data["scale"]))


def _as_int(value: object) -> Optional[int]:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    return None
