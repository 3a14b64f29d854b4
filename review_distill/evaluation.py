"""The `evaluate` step: test accuracy and macro-F1 of every model side by side.

Reads the metrics files the training steps wrote, and trains and scores two peers on the same
splits: TF-IDF + logistic regression on the gold labels (`tfidf_lr_gold`) and on the teacher's
argmax labels of the students' training texts (`tfidf_lr_distilled`). Writes their metrics files
and metrics/evaluation.json; an unlabeled language's scores go to its `zero_label` part.
The method: docs/method.md, "Reading the report"."""
import json
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy
import typer
from spacy.tokens import DocBin
from spacy.vocab import Vocab
from wasabi import msg

from .scores import classification_scores
from .files import atomic_path
from .reviews import check_unlabeled

# The spaCy models whose test metrics `all` writes, metrics/{name}.json, besides the students; and
# those of the `ablations` workflow, evaluated where they have been trained.
CORE_MODELS = ("baseline_bow", "teacher")
# The models trained on gold train sets, which a zero-label language has none of.
GOLD_MODELS = ("baseline_bow", "baseline_ensemble", "tfidf_lr_gold")
ABLATIONS = ("baseline_ensemble", "student_dan", "student_ensemble", "student_hard")
PEERS = ("tfidf_lr_gold", "tfidf_lr_distilled")
DISTILLED_PEER = PEERS[1]
TEACHER = "teacher"
SCORES = ("accuracy", "macro_f1")
CALIBRATION = ("ece", "brier")
# The step that writes each input, for error messages.
MAKERS = {
    "baseline_bow": "baseline-bow",
    "baseline_ensemble": "baseline-ensemble",
    "teacher": "teacher-train",
    "splits": "preprocess",
    "hard": "the teacher's labelling step",
}


class MissingInput(FileNotFoundError):
    """An input of this step does not exist yet: the message says which step makes it."""


def missing(path: Path, what: str) -> MissingInput:
    maker = MAKERS.get(what, f"the step that trains {what}")
    return MissingInput(f"Missing {path}: run {maker} first (`spacy project run all` runs every step)")


def read_labelled(path: Path) -> Tuple[List[str], List[str]]:
    """The texts of a DocBin and each one's top category (its gold or argmax teacher label)."""
    if not Path(path).is_file():
        raise MissingInput(f"Missing {path}")
    docs = list(DocBin().from_disk(path).get_docs(Vocab()))
    if not docs or any(not doc.cats for doc in docs):
        raise ValueError(f"{path}: every doc needs cats, and there must be at least one doc")
    return [doc.text for doc in docs], [max(doc.cats, key=doc.cats.get) for doc in docs]


def make_tfidf_lr(seed: int):
    """The peers' model: character 2-5-gram TF-IDF and logistic regression (see the module doc)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, dtype=numpy.float32),
        LogisticRegression(C=1.0, max_iter=1000, random_state=seed),
    )


def tfidf_lr_scores(
    train: Tuple[Sequence[str], Sequence[str]], test: Tuple[Sequence[str], Sequence[str]], seed: int
) -> Dict[str, float]:
    """Train a TF-IDF + LR model on (texts, labels) and score it on the test (texts, labels).
    Labels of one class only (a teacher that says NEG to everything) make a model that
    predicts that class for every text, as it is told, with a warning."""
    texts, labels = train
    if len(set(labels)) == 1:
        msg.warn(f"Every training text is labelled {labels[0]}: the model predicts {labels[0]} for every text")
        return classification_scores(list(test[1]), [labels[0]] * len(test[1]))
    model = make_tfidf_lr(seed).fit(list(texts), list(labels))
    probabilities = [dict(zip(map(str, model.classes_), map(float, row))) for row in model.predict_proba(list(test[0]))]
    return classification_scores(list(test[1]), [max(row, key=row.get) for row in probabilities], probabilities)


def with_mean(metrics: Dict[str, Dict[str, float]], languages: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Per-language scores plus their mean over the languages, as metrics/{name}.json holds them."""
    mean = {score: sum(metrics[lang][score] for lang in languages) / len(languages)
            for score in (*SCORES, *CALIBRATION) if all(score in metrics[lang] for lang in languages)}
    return {**{lang: metrics[lang] for lang in languages}, "mean": mean}


def peer_metrics(languages: Sequence[str], splits_dir: Path, hard_dir: Path, seed: int) -> Dict[str, Dict]:
    """Test scores of both TF-IDF + LR peers, per language and mean."""
    results: Dict[str, Dict] = {peer: {} for peer in PEERS}
    for lang in languages:
        test = read_labelled(splits_dir / lang / "test.spacy")
        train_sets = {
            "tfidf_lr_gold": read_labelled(splits_dir / lang / "train.spacy"),
            "tfidf_lr_distilled": read_labelled(hard_dir / lang / "train.spacy"),
        }
        for peer, train in train_sets.items():
            results[peer][lang] = tfidf_lr_scores(train, test, seed)
            msg.good(
                f"{lang}: {peer} trained on {len(train[0])} texts, test accuracy {results[peer][lang]['accuracy']:.3f}"
            )
    return {peer: with_mean(scores, languages) for peer, scores in results.items()}


def read_model_metrics(metrics_dir: Path, name: str, languages: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """metrics_dir/{name}.json, checked to hold scores for every language."""
    return with_mean(read_scores(metrics_dir, name, languages), languages)


def read_scores(metrics_dir: Path, name: str, languages: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """The per-language entries of metrics_dir/{name}.json, checked to hold scores for every language."""
    path = metrics_dir / f"{name}.json"
    if not path.is_file():
        raise missing(path, name)
    metrics = json.loads(path.read_text(encoding="utf8"))
    absent = [lang for lang in languages if lang not in metrics]
    if absent:
        raise ValueError(f"{path} has no scores for {', '.join(absent)}: rerun the step that trains {name}")
    for lang in languages:
        for key in (*SCORES, *CALIBRATION, "n"):
            if not isinstance(metrics[lang].get(key), (int, float)):
                raise ValueError(f"{path}: {lang} has no number for {key!r}")
    return metrics


def merge_evaluation(models: Dict[str, Dict], languages: Sequence[str]) -> Dict:
    """One table of every model's test scores; every model must have been scored on as many
    test reviews per language (the same splits)."""
    for lang in languages:
        sizes = {name: metrics[lang]["n"] for name, metrics in models.items()}
        if len(set(sizes.values())) > 1:
            raise ValueError(f"{lang}: the models were scored on test sets of different sizes {sizes}; rerun them")
    return {"split": "test", "languages": list(languages), "models": models}


def write_json(path: Path, data: Dict) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf8")


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
    """Read the spaCy models' metrics (the ablations' where they exist), train and score the peers,
    write everything."""
    check_unlabeled(languages, unlabeled)
    zero_label = [lang for lang in unlabeled if (splits_dir / lang / "test.spacy").is_file()]
    languages = [lang for lang in languages if lang not in unlabeled]
    ablations = [name for name in ABLATIONS if name not in students and (metrics_dir / f"{name}.json").is_file()]
    models = [*CORE_MODELS, *students, *ablations]
    spacy_metrics = {name: read_model_metrics(metrics_dir, name, languages) for name in models}
    zero_label_metrics = zero_label_scores(metrics_dir, [TEACHER, *students], ablations, zero_label)
    for path in [splits_dir / lang / f"{split}.spacy" for lang in languages for split in ("train", "test")]:
        if not path.is_file():
            raise missing(path, "splits")
    for lang in languages:
        if not (hard_dir / lang / "train.spacy").is_file():
            raise missing(hard_dir / lang / "train.spacy", "hard")
    peers = peer_metrics(languages, splits_dir, hard_dir, seed)
    if zero_label:
        distilled = zero_label_peer(zero_label, splits_dir, hard_dir, seed)
        zero_label_metrics[DISTILLED_PEER] = distilled
        peers[DISTILLED_PEER] = {**peers[DISTILLED_PEER], **distilled}
    for peer, metrics in peers.items():
        write_json(metrics_dir / f"{peer}.json", metrics)
    evaluation = merge_evaluation({**spacy_metrics, **{peer: with_mean(metrics, languages) for peer, metrics in
                                                       peers.items()}}, languages)
    if unlabeled:
        merge_evaluation(zero_label_metrics, zero_label)  # the same test sets
        evaluation["zero_label"] = {"languages": zero_label, "models": zero_label_metrics,
                                    "no_test_set": [lang for lang in unlabeled if lang not in zero_label]}
    write_json(output, evaluation)
    return evaluation


def zero_label_scores(metrics_dir: Path, models: Sequence[str], ablations: Sequence[str],
                      zero_label: Sequence[str]) -> Dict[str, Dict]:
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
            raise ValueError(f"{path} has no zero-label scores for {', '.join(unmarked)}: rerun the step that "
                             f"trains {name} with these unlabeled_languages")
        entries = read_scores(metrics_dir, name, zero_label)
        scores[name] = {lang: entries[lang] for lang in zero_label}
    return scores


def zero_label_peer(zero_label: Sequence[str], splits_dir: Path, hard_dir: Path, seed: int) -> Dict[str, Dict]:
    """TF-IDF + LR on the teacher's labels of a zero-label language's texts, scored on its gold test set."""
    scores = {}
    for lang in zero_label:
        if not (hard_dir / lang / "train.spacy").is_file():
            raise missing(hard_dir / lang / "train.spacy", "hard")
        train = read_labelled(hard_dir / lang / "train.spacy")
        scores[lang] = {**tfidf_lr_scores(train, read_labelled(splits_dir / lang / "test.spacy"), seed),
                        "zero_label": True}
        msg.good(f"{lang}: {DISTILLED_PEER} trained on {len(train[0])} texts, test accuracy "
                 f"{scores[lang]['accuracy']:.3f} (zero-label)")
    return scores


def main(
    languages: List[str] = typer.Argument(...),
    metrics_dir: Path = typer.Option(Path("metrics"), help="Holds {model}.json; the peers' metrics go here too"),
    splits_dir: Path = typer.Option(Path("corpus/splits"), help="Holds {lang}/{train,test}.spacy (gold)"),
    hard_dir: Path = typer.Option(Path("corpus/hard"), help="Holds {lang}/train.spacy (the teacher's argmax labels)"),
    output: Path = typer.Option(Path("metrics/evaluation.json"), help="Every model's test scores"),
    students: str = typer.Option(..., help="Space-separated students trained by `all`, e.g. 'student_bow'"),
    seed: int = typer.Option(0),
    unlabeled: str = typer.Option("", help="Space-separated languages whose gold labels no model trained on"),
):
    try:
        evaluation = evaluate(languages, metrics_dir, splits_dir, hard_dir, output, students.split(), seed=seed,
                              unlabeled=unlabeled.split())
    except (MissingInput, ValueError) as err:  # DataError is a ValueError
        msg.fail(str(err), exits=1)
    languages = evaluation["languages"]
    header = ["test accuracy", *languages, "mean"]
    rows = [
        [name] + [f"{metrics[col]['accuracy']:.3f}" for col in [*languages, "mean"]]
        for name, metrics in evaluation["models"].items()
    ]
    msg.table(rows, header=header, divider=True)
    zero_label = evaluation.get("zero_label", {})
    if zero_label.get("languages"):
        rows = [[name] + [f"{metrics[lang]['accuracy']:.3f}" for lang in zero_label["languages"]]
                for name, metrics in zero_label["models"].items()]
        msg.table(rows, header=["zero-label test accuracy", *zero_label["languages"]], divider=True)
    if zero_label.get("no_test_set"):
        msg.info(f"No gold test set, so no test scores: {', '.join(zero_label['no_test_set'])}")
    msg.good(f"Every model's test scores are in {output}")
