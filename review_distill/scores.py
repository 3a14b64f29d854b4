"""Accuracy, macro-F1 and calibration of a text classifier on gold DocBins, per language."""
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from spacy.language import Language
from spacy.tokens import DocBin
from wasabi import msg

from .files import write_json


SCORES = ("accuracy", "macro_f1")
CALIBRATION = ("ece", "brier")
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


def classification_scores(
    gold: List[str], predicted: List[str], probabilities: Optional[Sequence[Dict[str, float]]] = None
) -> Dict[str, float]:
    """Accuracy and macro-averaged F1 over the labels present in `gold`; with each doc's
    probabilities, also its calibration (calibration_scores)."""
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
    return scores


def with_mean(metrics: Dict[str, Dict[str, float]], languages: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Per-language scores plus their mean over the languages, as metrics/{name}.json holds them."""
    mean = {score: sum(metrics[lang][score] for lang in languages) / len(languages)
            for score in (*SCORES, *CALIBRATION) if all(score in metrics[lang] for lang in languages)}
    return {**{lang: metrics[lang] for lang in languages}, "mean": mean}


def evaluate_textcat(nlp: Language, docbin_path: Path, batch_size: int = 256) -> Dict[str, float]:
    """Run `nlp` on the raw texts of a gold DocBin and score its top label against the gold one."""
    gold_docs = list(DocBin().from_disk(docbin_path).get_docs(nlp.vocab))
    gold = [max(doc.cats, key=doc.cats.get) for doc in gold_docs]
    probabilities = [dict(doc.cats) for doc in nlp.pipe((doc.text for doc in gold_docs), batch_size=batch_size)]
    predicted = [max(probs, key=probs.get) for probs in probabilities]
    return classification_scores(gold, predicted, probabilities)


def evaluate_languages(
    get_nlp: Callable[[str], Language], languages: List[str], corpus_dir: Path, split: str, metrics_path: Path,
    zero_label: Optional[Dict[str, Path]] = None,
) -> Dict[str, Dict[str, float]]:
    """Score each language's model on corpus_dir/{lang}/{split}.spacy; write the scores and
    their mean over languages to metrics_path as JSON. `zero_label` languages, whose gold labels no
    model trained on, are scored on their own DocBin, marked ZERO_LABEL_MARKS[split] and left out of
    the mean (which then names its languages)."""
    metrics = {}
    docbins = {**{lang: corpus_dir / lang / f"{split}.spacy" for lang in languages}, **(zero_label or {})}
    for lang, path in docbins.items():
        metrics[lang] = evaluate_textcat(get_nlp(lang), path)
        note = ""
        if lang in (zero_label or {}):
            metrics[lang].update(ZERO_LABEL_MARKS[split])
            note = f" ({metrics[lang].get('labels', 'zero-label')})"
        msg.good(f"{lang}: {split} accuracy {metrics[lang]['accuracy']:.3f}, macro-F1 {metrics[lang]['macro_f1']:.3f}{note}")
    metrics["mean"] = {
        score: sum(metrics[lang][score] for lang in languages) / len(languages) for score in ("accuracy", "macro_f1")
    }
    if zero_label:
        metrics["mean"]["languages"] = list(languages)
    write_json(metrics_path, metrics)
    msg.good(f"Mean {split} accuracy {metrics['mean']['accuracy']:.3f}; metrics in {metrics_path}")
    return metrics
