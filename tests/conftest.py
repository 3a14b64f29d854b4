import json
from pathlib import Path

import pytest

from review_distill.packaging import package_students
from review_distill.reviews import make_nlp
from util import CHAR_LANGUAGES, COMPONENT, MAIN, ROOT, TEACHER, WORDS, toy_corpus, train_toy_students

SHARED_DATA = ROOT.parent / "shared" / "data" / "amazon_reviews_multi"


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "ja" / "train.jsonl").is_file():
        pytest.skip(f"the review data is not at {SHARED_DATA}")
    return SHARED_DATA


def write_lines(path: Path, rows) -> Path:
    """Write dicts as JSON lines (or raw strings as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def make_reviews(n_per_label: int, prefix: str, start: int = 0):
    """Distinct POS/NEG reviews with ids and labels."""
    return [
        {"id": f"{prefix}{i}", "text": f"{label.lower()} review {prefix}{i}", "label": label}
        for label in ("POS", "NEG")
        for i in range(start, start + n_per_label)
    ]


# --- The students' component and its packages ---


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    """Toy de, zh (jieba words) and ja (characters) students trained as the workflow trains
    them, packaged by package.py."""
    tmp = tmp_path_factory.mktemp("project")
    corpora = {}
    for lang, words in WORDS.items():
        nlp = make_nlp(lang)
        corpora[lang] = (toy_corpus(nlp, 0.8, *words), toy_corpus(nlp, 1.0, *words))
    training, metrics = train_toy_students(tmp, "student_bow", corpora, char_languages=CHAR_LANGUAGES)
    summary = tmp / "metrics" / "summary.json"
    summary.write_text(json.dumps({"default_student": "student_bow"}))
    package_students(
        training.parent, tmp / "packages", list(WORDS), summary_path=summary, metrics_dir=metrics.parent,
        code=COMPONENT, main_module=MAIN, name="review_sentiment", version="0.1.0",
        teacher=TEACHER, unlabeled=[],
    )
    # The word-split students' training texts (a character may turn up in any binary file).
    texts = {lang: [eg.text for eg in train] for lang, (train, _) in corpora.items() if lang not in CHAR_LANGUAGES}
    return tmp, training, metrics, texts
