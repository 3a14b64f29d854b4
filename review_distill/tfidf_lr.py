"""The `evaluate` step's peers: TF-IDF + logistic regression trained on the gold labels
(`tfidf_lr_gold`) and on the teacher's argmax labels of the students' training texts
(`tfidf_lr_distilled`), scored on the same test sets as the spaCy models: multinomial logistic
regression over the task's labels where it has more than two."""
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy
from spacy.tokens import DocBin
from spacy.vocab import Vocab
from wasabi import msg

from .errors import DataError, MissingInput
from .models import PEERS, TFIDF_LR_DISTILLED, TFIDF_LR_GOLD
from .scores import classification_scores, with_mean
from .tasks import top_label
from .tasks import Task, read_task


def read_labelled(path: Path) -> Tuple[List[str], List[str]]:
    """The texts of a DocBin and each one's top category (its gold or argmax teacher label)."""
    if not Path(path).is_file():
        raise MissingInput(f"Missing {path}")
    docs = list(DocBin().from_disk(path).get_docs(Vocab()))
    if not docs or any(not doc.cats for doc in docs):
        raise DataError(f"{path}: every doc needs cats, and there must be at least one doc")
    return [doc.text for doc in docs], [max(doc.cats, key=doc.cats.get) for doc in docs]


def make_tfidf_lr(seed: int):
    """The peers' model: character 2-5-gram TF-IDF and logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, dtype=numpy.float32),
        LogisticRegression(C=1.0, max_iter=1000, random_state=seed),
    )


def tfidf_lr_scores(
    train: Tuple[Sequence[str], Sequence[str]], test: Tuple[Sequence[str], Sequence[str]], seed: int, task: Task
) -> Dict:
    """Train a TF-IDF + LR model on (texts, labels) and score it on the test (texts, labels).
    Labels of one class only (a teacher that says NEG to everything) make a model that
    predicts that class for every text, as it is told, with a warning. A label of the task that no
    training text has gets probability 0."""
    texts, labels = train
    unknown = sorted(set(labels) - set(task.labels))
    if unknown:
        raise DataError(f"training labels {unknown} are not labels of the task {task.name} {list(task.labels)}: "
                        "rerun the steps from `preprocess` on")
    if len(set(labels)) == 1:
        msg.warn(f"Every training text is labelled {labels[0]}: the model predicts {labels[0]} for every text")
        return classification_scores(list(test[1]), [labels[0]] * len(test[1]), task=task)
    model = make_tfidf_lr(seed).fit(list(texts), list(labels))
    unseen = {label: 0.0 for label in task.labels if label not in model.classes_}
    if unseen:
        msg.warn(f"No training text is labelled {', '.join(unseen)}: the model never predicts it")
    probabilities = [{**dict(zip(map(str, model.classes_), map(float, row))), **unseen}
                     for row in model.predict_proba(list(test[0]))]
    # Of equally probable labels, the first of the model's classes (sorted), as before tasks.
    predicted = [top_label(row, list(row)) for row in probabilities]
    return classification_scores(list(test[1]), predicted, probabilities, task)


def peer_metrics(languages: Sequence[str], splits_dir: Path, hard_dir: Path, seed: int) -> Dict[str, Dict]:
    """Test scores of both TF-IDF + LR peers, per language and mean, on splits_dir/task.json's task."""
    task = read_task(splits_dir / "task.json")
    results: Dict[str, Dict] = {peer: {} for peer in PEERS}
    for lang in languages:
        test = read_labelled(splits_dir / lang / "test.spacy")
        train_sets = {
            TFIDF_LR_GOLD: read_labelled(splits_dir / lang / "train.spacy"),
            TFIDF_LR_DISTILLED: read_labelled(hard_dir / lang / "train.spacy"),
        }
        for peer, train in train_sets.items():
            results[peer][lang] = tfidf_lr_scores(train, test, seed, task)
            msg.good(
                f"{lang}: {peer} trained on {len(train[0])} texts, test accuracy {results[peer][lang]['accuracy']:.3f}"
            )
    return {peer: with_mean(scores, languages) for peer, scores in results.items()}


def zero_label_peer(zero_label: Sequence[str], splits_dir: Path, hard_dir: Path, seed: int) -> Dict[str, Dict]:
    """TF-IDF + LR on the teacher's labels of a zero-label language's texts, scored on its gold test set."""
    task = read_task(splits_dir / "task.json")
    scores = {}
    for lang in zero_label:
        train = read_labelled(hard_dir / lang / "train.spacy")
        scores[lang] = {**tfidf_lr_scores(train, read_labelled(splits_dir / lang / "test.spacy"), seed, task),
                        "zero_label": True}
        msg.good(f"{lang}: {TFIDF_LR_DISTILLED} trained on {len(train[0])} texts, test accuracy "
                 f"{scores[lang]['accuracy']:.3f} (zero-label)")
    return scores
