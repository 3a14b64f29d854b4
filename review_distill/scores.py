"""Accuracy, macro-F1 and calibration of a text classifier on gold DocBins, per language; for a task
of more than two labels also its confusion matrix, and for an ordered one how far off it is in steps."""
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from spacy.language import Language
from spacy.tokens import DocBin
from wasabi import msg

from .errors import DataError
from .files import write_json
from .predictions import cats_shortest_first, write_predictions
from .tasks import Task, read_task, top_label


SCORES = ("accuracy", "macro_f1")
CALIBRATION = ("ece", "brier")
# The scores of an ordered task of more than two labels (task_scores): mean absolute error in steps, of
# the most probable label and of the median one, the share off by one step at most, and for stars the
# accuracy with both labels collapsed to binary.
ORDINAL = ("mae", "median_mae", "within_one", "binary_accuracy")
CALIBRATION_BINS = 10
# How the scores of a language whose gold labels no model trained on are marked, per split: on test
# the model never saw a gold label of the language; on dev its labels are the teacher's.
ZERO_LABEL_MARKS = {"test": {"zero_label": True}, "dev": {"zero_label": True, "labels": "teacher-labelled dev"}}


def calibration_scores(gold: Sequence[str], probabilities: Sequence[Dict[str, float]]) -> Dict[str, float]:
    """Expected calibration error (CALIBRATION_BINS equal-width bins of the top label's probability)
    and Brier score (the mean over docs of the squared error summed over the labels)."""
    bins: List[List[float]] = [[0, 0.0, 0.0] for _ in range(CALIBRATION_BINS)]  # count, confidence, correct
    brier = 0.0
    for label, probs in zip(gold, probabilities):
        top = max(probs, key=probs.get)
        row = bins[min(int(probs[top] * CALIBRATION_BINS), CALIBRATION_BINS - 1)]
        row[0] += 1
        row[1] += probs[top]
        row[2] += float(top == label)
        brier += sum((value - float(name == label)) ** 2 for name, value in probs.items())
    ece = sum(abs(confidence - correct) for _, confidence, correct in bins) / len(gold)
    return {"ece": ece, "brier": brier / len(gold)}


def confusion_matrix(labels: Sequence[str], gold: Sequence[str], predicted: Sequence[str]) -> List[List[int]]:
    """The counts of (gold, predicted) label pairs: a row per gold label, a column per predicted one,
    both in the order of `labels`."""
    index = {label: i for i, label in enumerate(labels)}
    counts = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted):
        counts[index[g]][index[p]] += 1
    return counts


def task_score_names(task: Task) -> Tuple[str, ...]:
    """The keys task_scores adds to a model's scores of the task."""
    if len(task.labels) <= 2:
        return ()
    return ("confusion", *(("mae", "median_mae", "within_one") if task.ordered else ()),
            *(("binary_accuracy",) if task.name == "stars" else ()))


def median_label(probabilities: Dict[str, float], scale: Sequence[str]) -> str:
    """The first label of the scale at which the cumulative probability reaches one half: the label
    whose expected distance in steps from the gold one is least."""
    total = 0.0
    for label in scale[:-1]:
        total += probabilities[label]
        if total >= 0.5:
            return label
    return scale[-1]


def task_scores(task: Task, gold: Sequence[str], predicted: Sequence[str],
                probabilities: Optional[Sequence[Dict[str, float]]] = None) -> Dict:
    """The scores a task of more than two labels adds: its confusion matrix (confusion_matrix, in the
    order of task.labels); for an ordered task also ORDINAL: "mae", the mean number of steps between
    the gold and the predicted label, "median_mae", the same for the median label of each doc's
    probabilities (median_label; without probabilities, the predicted one), "within_one", the share
    of predicted labels at most one step off, and for stars
    "binary_accuracy", the accuracy with both labels collapsed to binary (task.to_binary). Nothing for
    a two-label task, whose metrics stay as they were before tasks. Labels outside the task: DataError."""
    for name, labels in (("gold", gold), ("predicted", predicted)):
        unknown = sorted(set(labels) - set(task.labels))
        if unknown:
            raise DataError(f"{name} labels {unknown} are not labels of the task {task.name} {list(task.labels)}: "
                            "score a model trained on this task's data, and rerun `spacy project run preprocess` "
                            "if the task changed")
    if len(task.labels) <= 2:
        return {}
    scores: Dict = {"confusion": confusion_matrix(task.labels, gold, predicted)}
    if task.ordered:
        steps = [abs(task.rank(g) - task.rank(p)) for g, p in zip(gold, predicted)]
        scores["mae"] = sum(steps) / len(steps)
        medians = [median_label(probs, task.scale) for probs in probabilities] if probabilities else predicted
        scores["median_mae"] = sum(abs(task.rank(g) - task.rank(m)) for g, m in zip(gold, medians)) / len(gold)
        scores["within_one"] = sum(step <= 1 for step in steps) / len(steps)
    if task.name == "stars":
        scores["binary_accuracy"] = sum(task.to_binary(g) == task.to_binary(p) for g, p in zip(gold, predicted)) / len(gold)
    return scores


def classification_scores(
    gold: List[str], predicted: List[str], probabilities: Optional[Sequence[Dict[str, float]]] = None,
    task: Optional[Task] = None,
) -> Dict:
    """Accuracy and macro-averaged F1 over the labels present in `gold`; with each doc's
    probabilities, also its calibration (calibration_scores); with the task, its task_scores."""
    if len(gold) != len(predicted) or not gold:
        raise ValueError(f"need equally many gold and predicted labels, got {len(gold)} and {len(predicted)}")
    f1s = []
    for label in sorted(set(gold)):
        tp = sum(g == p == label for g, p in zip(gold, predicted))
        fp = sum(p == label != g for g, p in zip(gold, predicted))
        fn = sum(g == label != p for g, p in zip(gold, predicted))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    accuracy = sum(g == p for g, p in zip(gold, predicted)) / len(gold)
    scores = {"accuracy": accuracy, "macro_f1": sum(f1s) / len(f1s), "n": len(gold)}
    if probabilities is not None:
        if len(probabilities) != len(gold):
            raise ValueError(f"need a probability row per doc, got {len(probabilities)} for {len(gold)}")
        scores.update(calibration_scores(gold, probabilities))
    if task is not None:
        scores.update(task_scores(task, gold, predicted, probabilities))
    return scores


def with_mean(metrics: Dict[str, Dict[str, float]], languages: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Per-language scores plus their mean over the languages, as metrics/{name}.json holds them."""
    mean = {score: sum(metrics[lang][score] for lang in languages) / len(languages)
            for score in (*SCORES, *CALIBRATION, *ORDINAL) if all(score in metrics[lang] for lang in languages)}
    return {**{lang: metrics[lang] for lang in languages}, "mean": mean}


def evaluate_textcat(nlp: Language, docbin_path: Path, task: Task, batch_size: int = 256,
                     predictions_path: Optional[Path] = None) -> Dict:
    """Run `nlp` on the raw texts of a gold DocBin and score its top label (top_label) against the gold one;
    write its probabilities to predictions_path if given (predictions.write_predictions)."""
    gold_docs = list(DocBin().from_disk(docbin_path).get_docs(nlp.vocab))
    gold = [max(doc.cats, key=doc.cats.get) for doc in gold_docs]
    probabilities = cats_shortest_first(nlp, [doc.text for doc in gold_docs], batch_size)
    missing = [label for label in task.labels if probabilities and label not in probabilities[0]]
    if missing:
        raise DataError(f"{docbin_path}: the model has no score for {', '.join(missing)} of the task {task.name}'s "
                        f"labels {list(task.labels)}: retrain it on this task's data")
    if predictions_path is not None:
        write_predictions(predictions_path, docbin_path, probabilities)
    predicted = [top_label(probs, task.labels) for probs in probabilities]
    return classification_scores(gold, predicted, probabilities, task)


def evaluate_languages(
    get_nlp: Callable[[str], Language], languages: List[str], corpus_dir: Path, split: str, metrics_path: Path,
    zero_label: Optional[Dict[str, Path]] = None, task: Optional[Task] = None, predictions_dir: Optional[Path] = None,
) -> Dict[str, Dict[str, float]]:
    """Score each language's model on corpus_dir/{lang}/{split}.spacy; write the scores and
    their mean over languages to metrics_path as JSON. `zero_label` languages, whose gold labels no
    model trained on, are scored on their own DocBin, marked ZERO_LABEL_MARKS[split] and left out of
    the mean (which then names its languages). The task, by default corpus_dir/task.json's, names the
    labels and the scores (classification_scores). With predictions_dir, each language's probabilities
    go to predictions_dir/{lang}.json."""
    task = task if task is not None else read_task(corpus_dir / "task.json")
    metrics = {}
    docbins = {**{lang: corpus_dir / lang / f"{split}.spacy" for lang in languages}, **(zero_label or {})}
    for lang, path in docbins.items():
        predictions_path = predictions_dir / f"{lang}.json" if predictions_dir is not None else None
        metrics[lang] = evaluate_textcat(get_nlp(lang), path, task, predictions_path=predictions_path)
        note = ""
        if lang in (zero_label or {}):
            metrics[lang].update(ZERO_LABEL_MARKS[split])
            note = f" ({metrics[lang].get('labels', 'zero-label')})"
        mae = f", MAE {metrics[lang]['mae']:.3f}" if "mae" in metrics[lang] else ""
        msg.good(f"{lang}: {split} accuracy {metrics[lang]['accuracy']:.3f}, macro-F1 {metrics[lang]['macro_f1']:.3f}"
                 f"{mae}{note}")
    metrics["mean"] = {
        score: sum(metrics[lang][score] for lang in languages) / len(languages)
        for score in (*SCORES, *ORDINAL) if all(score in metrics[lang] for lang in languages)
    }
    if zero_label:
        metrics["mean"]["languages"] = list(languages)
    write_json(metrics_path, metrics)
    msg.good(f"Mean {split} accuracy {metrics['mean']['accuracy']:.3f}; metrics in {metrics_path}")
    return metrics
