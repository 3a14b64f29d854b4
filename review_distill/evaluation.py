"""The `evaluate` step: test accuracy and macro-F1 of every model side by side.

Reads the metrics files the training steps wrote, and has two peers trained and scored on the same
splits (review_distill.tfidf_lr): TF-IDF + logistic regression on the gold labels (`tfidf_lr_gold`)
and on the teacher's argmax labels of the students' training texts (`tfidf_lr_distilled`). Writes
their metrics files and metrics/evaluation.json; an unlabeled language's scores go to its
`zero_label` part. A task other than binary (splits_dir/task.json) is named in evaluation.json's
`task`, and its models' scores hold its task_scores (review_distill.scores). The method:
docs/method.md, "Reading the report"."""
import json
from pathlib import Path
from typing import Dict, Sequence

from wasabi import msg

from .errors import DataError, MissingInput
from .files import write_json
from .models import ABLATIONS, BASELINE, CORE_MODELS, TEACHER, TFIDF_LR_DISTILLED
from .reviews import check_unlabeled
from .scores import CALIBRATION, SCORES, task_score_names, with_mean
from .tasks import Task, read_task
from .tfidf_lr import peer_metrics, zero_label_peer

# The step that writes each input, for error messages.
MAKERS = {
    BASELINE: "baseline-bow",
    "baseline_ensemble": "baseline-ensemble",
    TEACHER: "teacher-train",
    "splits": "preprocess",
    "hard": "the teacher's labelling step",
}


def missing(path: Path, what: str) -> MissingInput:
    """The error for a missing input, naming the step that writes it."""
    maker = MAKERS.get(what, f"the step that trains {what}")
    return MissingInput(f"Missing {path}: run {maker} first (`spacy project run all` runs every step)")


def read_model_metrics(metrics_dir: Path, name: str, languages: Sequence[str], task: Task) -> Dict[str, Dict]:
    """metrics_dir/{name}.json, checked to hold scores for every language."""
    return with_mean(read_scores(metrics_dir, name, languages, task), languages)


def read_scores(metrics_dir: Path, name: str, languages: Sequence[str], task: Task) -> Dict[str, Dict]:
    """The per-language entries of metrics_dir/{name}.json, checked to hold scores for every language,
    the task's (task_score_names) included."""
    path = metrics_dir / f"{name}.json"
    if not path.is_file():
        raise missing(path, name)
    metrics = json.loads(path.read_text(encoding="utf8"))
    absent = [lang for lang in languages if lang not in metrics]
    if absent:
        raise DataError(f"{path} has no scores for {', '.join(absent)}: rerun the step that trains {name}")
    for lang in languages:
        for key in (*SCORES, *CALIBRATION, "n"):
            if not isinstance(metrics[lang].get(key), (int, float)):
                raise DataError(f"{path}: {lang} has no number for {key!r}")
        absent = [key for key in task_score_names(task) if key not in metrics[lang]]
        if absent:
            raise DataError(f"{path}: {lang} has no {', '.join(absent)}, scores of the task {task.name}: rerun the "
                            f"step that trains {name} on this task's data")
    return metrics


def merge_evaluation(models: Dict[str, Dict], languages: Sequence[str]) -> Dict:
    """One table of every model's test scores; every model must have been scored on as many
    test reviews per language (the same splits)."""
    for lang in languages:
        sizes = {name: metrics[lang]["n"] for name, metrics in models.items()}
        if len(set(sizes.values())) > 1:
            raise DataError(f"{lang}: the models were scored on test sets of different sizes {sizes}; rerun them")
    return {"split": "test", "languages": list(languages), "models": models}


def evaluate(
    languages: Sequence[str],
    metrics_dir: Path,
    splits_dir: Path,
    hard_dir: Path,
    output: Path,
    students: Sequence[str],
    seed: int = 0,
    unlabeled: Sequence[str] = (),
) -> Dict:
    """Read the spaCy models' metrics (the ablations' where they exist), train and score the peers
    (review_distill.tfidf_lr), write everything."""
    check_unlabeled(languages, unlabeled)
    task = read_task(splits_dir / "task.json")
    zero_label = [lang for lang in unlabeled if (splits_dir / lang / "test.spacy").is_file()]
    languages = [lang for lang in languages if lang not in unlabeled]
    ablations = [name for name in ABLATIONS if name not in students and (metrics_dir / f"{name}.json").is_file()]
    models = [*CORE_MODELS, *students, *ablations]
    spacy_metrics = {name: read_model_metrics(metrics_dir, name, languages, task) for name in models}
    zero_label_metrics = zero_label_scores(metrics_dir, [TEACHER, *students], ablations, zero_label, task)
    for path in [splits_dir / lang / f"{split}.spacy" for lang in languages for split in ("train", "test")]:
        if not path.is_file():
            raise missing(path, "splits")
    for lang in languages:
        if not (hard_dir / lang / "train.spacy").is_file():
            raise missing(hard_dir / lang / "train.spacy", "hard")
    peers = peer_metrics(languages, splits_dir, hard_dir, seed)
    if zero_label:
        for lang in zero_label:
            if not (hard_dir / lang / "train.spacy").is_file():
                raise missing(hard_dir / lang / "train.spacy", "hard")
        distilled = zero_label_peer(zero_label, splits_dir, hard_dir, seed)
        zero_label_metrics[TFIDF_LR_DISTILLED] = distilled
        peers[TFIDF_LR_DISTILLED] = {**peers[TFIDF_LR_DISTILLED], **distilled}
    for peer, metrics in peers.items():
        write_json(metrics_dir / f"{peer}.json", metrics)
    evaluation = merge_evaluation({**spacy_metrics, **{peer: with_mean(metrics, languages) for peer, metrics in
                                                       peers.items()}}, languages)
    if task.name != "binary":
        evaluation["task"] = {"name": task.name, "labels": list(task.labels), "scale": list(task.scale)}
    if unlabeled:
        merge_evaluation(zero_label_metrics, zero_label)  # the same test sets
        evaluation["zero_label"] = {"languages": zero_label, "models": zero_label_metrics,
                                    "no_test_set": [lang for lang in unlabeled if lang not in zero_label]}
    write_json(output, evaluation)
    return evaluation


def zero_label_scores(metrics_dir: Path, models: Sequence[str], ablations: Sequence[str],
                      zero_label: Sequence[str], task: Task) -> Dict[str, Dict]:
    """The zero-label languages' test scores of the teacher and students, and of the ablations trained
    without their gold labels; each must be marked zero-label in its metrics file."""
    scores = {}
    for name in (*models, *ablations):
        path = metrics_dir / f"{name}.json"
        entries = json.loads(path.read_text(encoding="utf8")) if path.is_file() else {}
        unmarked = [lang for lang in zero_label if not entries.get(lang, {}).get("zero_label")]
        if unmarked and name in ablations:
            msg.warn(f"{name} has no zero-label scores for {', '.join(unmarked)}: left out of their table")
            continue
        if unmarked:
            raise DataError(f"{path} has no zero-label scores for {', '.join(unmarked)}: rerun the step that "
                            f"trains {name} with these unlabeled_languages")
        entries = read_scores(metrics_dir, name, zero_label, task)
        scores[name] = {lang: entries[lang] for lang in zero_label}
    return scores


def print_evaluation(evaluation: Dict) -> None:
    """The test accuracy of every model (and for an ordered task its MAE), and of the zero-label
    languages' models, as tables."""
    languages = evaluation["languages"]
    header = ["test accuracy", *languages, "mean"]
    rows = [
        [name] + [f"{metrics[col]['accuracy']:.3f}" for col in [*languages, "mean"]]
        for name, metrics in evaluation["models"].items()
    ]
    msg.table(rows, header=header, divider=True)
    if all("mae" in metrics["mean"] for metrics in evaluation["models"].values()):
        rows = [[name] + [f"{metrics[col]['mae']:.3f}" for col in [*languages, "mean"]]
                for name, metrics in evaluation["models"].items()]
        msg.table(rows, header=[f"test MAE ({evaluation['task']['name']})", *languages, "mean"], divider=True)
    zero_label = evaluation.get("zero_label", {})
    if zero_label.get("languages"):
        rows = [[name] + [f"{metrics[lang]['accuracy']:.3f}" for lang in zero_label["languages"]]
                for name, metrics in zero_label["models"].items()]
        msg.table(rows, header=["zero-label test accuracy", *zero_label["languages"]], divider=True)
    if zero_label.get("no_test_set"):
        msg.info(f"No gold test set, so no test scores: {', '.join(zero_label['no_test_set'])}")
