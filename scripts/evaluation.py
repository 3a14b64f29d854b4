"""Accuracy and macro-F1 of a text classifier on a gold DocBin."""
from pathlib import Path
from typing import Dict, List

from spacy.language import Language
from spacy.tokens import DocBin


def classification_scores(gold: List[str], predicted: List[str]) -> Dict[str, float]:
    """Accuracy and macro-averaged F1 over the labels present in `gold`."""
    if len(gold) != len(predicted) or not gold:
        raise ValueError(f"need equally many gold and predicted labels, got {len(gold)} and {len(predicted)}")
    f1s = []
    for label in sorted(set(gold)):
        tp = sum(g == p == label for g, p in zip(gold, predicted))
        fp = sum(p == label != g for g, p in zip(gold, predicted))
        fn = sum(g == label != p for g, p in zip(gold, predicted))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    accuracy = sum(g == p for g, p in zip(gold, predicted)) / len(gold)
    return {"accuracy": accuracy, "macro_f1": sum(f1s) / len(f1s), "n": len(gold)}


def evaluate_textcat(nlp: Language, docbin_path: Path, batch_size: int = 256) -> Dict[str, float]:
    """Run `nlp` on the raw texts of a gold DocBin and score its top label against the gold one."""
    gold_docs = list(DocBin().from_disk(docbin_path).get_docs(nlp.vocab))
    gold = [max(doc.cats, key=doc.cats.get) for doc in gold_docs]
    predicted = [
        max(doc.cats, key=doc.cats.get) for doc in nlp.pipe((doc.text for doc in gold_docs), batch_size=batch_size)
    ]
    return classification_scores(gold, predicted)
