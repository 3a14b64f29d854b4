"""evaluate.py on toy metrics and a toy corpus."""
import json

import pytest
import spacy
import typer
from spacy.tokens import DocBin
from typer.testing import CliRunner

import evaluate

LANGS = ["en", "ja"]
# Mean test accuracy of each model in the toy metrics.
ACCURACY = {"baseline_bow": 0.737, "baseline_ensemble": 0.704, "teacher": 0.85, "student_bow": 0.795,
            "student_ensemble": 0.78, "student_hard": 0.772, "tfidf_lr_gold": 0.752, "tfidf_lr_distilled": 0.771}


def model_metrics(accuracy, languages=LANGS, n=1000):
    """A metrics/{name}.json: the languages a point apart around `accuracy`."""
    scores = {lang: {"accuracy": accuracy + 0.01 * i, "macro_f1": accuracy + 0.01 * i - 0.002, "n": n}
              for i, lang in enumerate(languages)}
    return {**scores, "mean": {"accuracy": accuracy, "macro_f1": accuracy}}


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf8")
    return path


def _app(function):
    app = typer.Typer()
    app.command()(function)
    return app


# --- evaluate.py -------------------------------------------------------------------------------

GOOD = ["great", "love", "excellent", "perfect", "happy", "superb"]
BAD = ["awful", "broken", "terrible", "refund", "useless", "poor"]
THINGS = ["phone", "case", "cable", "book", "lamp", "shoes", "charger"]


def toy_docs(n, offset=0, flip=False):
    """Separable reviews: a POS review has good words, a NEG one bad words (flip: labels swapped)."""
    docs = []
    nlp = spacy.blank("xx")
    for i in range(n):
        label = ("POS", "NEG")[i % 2]
        words = GOOD if label == "POS" else BAD
        text = f"the {THINGS[(i + offset) % 7]} is {words[(i + offset) % 6]} , {words[(i * 5 + offset + 1) % 6]} really"
        doc = nlp.make_doc(text)
        shown = ("NEG" if label == "POS" else "POS") if flip else label
        doc.cats = {"POS": float(shown == "POS"), "NEG": float(shown == "NEG")}
        docs.append(doc)
    return docs


def write_docbin(path, docs):
    path.parent.mkdir(parents=True, exist_ok=True)
    docbin = DocBin(store_user_data=True)
    for doc in docs:
        docbin.add(doc)
    docbin.to_disk(path)


def toy_project(tmp_path, languages=LANGS, flip_hard=True):
    for lang in languages:
        write_docbin(tmp_path / "splits" / lang / "train.spacy", toy_docs(40))
        write_docbin(tmp_path / "splits" / lang / "test.spacy", toy_docs(20, offset=3))
        write_docbin(tmp_path / "hard" / lang / "train.spacy", toy_docs(40, offset=1, flip=flip_hard))
    for name in evaluate.SPACY_MODELS:
        write_json(tmp_path / "metrics" / f"{name}.json", model_metrics(ACCURACY[name], languages, n=20))


def run_evaluate(tmp_path, languages=LANGS):
    return evaluate.evaluate(languages, tmp_path / "metrics", tmp_path / "splits", tmp_path / "hard",
                             tmp_path / "metrics" / "evaluation.json", seed=0)


def test_tfidf_peers_learn_the_gold_and_the_teachers_labels(tmp_path):
    """The gold peer learns the toy task; the distilled one learns from corpus/hard, here with
    every label flipped, so it gets the test set backwards."""
    toy_project(tmp_path)
    result = run_evaluate(tmp_path)
    on_disk = json.loads((tmp_path / "metrics" / "evaluation.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert on_disk["languages"] == LANGS and on_disk["split"] == "test"
    assert set(on_disk["models"]) == {*evaluate.SPACY_MODELS, "tfidf_lr_gold", "tfidf_lr_distilled"}
    assert on_disk["models"]["teacher"]["ja"]["accuracy"] == pytest.approx(0.86)  # read, not recomputed
    for peer in ("tfidf_lr_gold", "tfidf_lr_distilled"):
        metrics = json.loads((tmp_path / "metrics" / f"{peer}.json").read_text())
        assert set(metrics) == {*LANGS, "mean"} and metrics["en"]["n"] == 20
        assert set(metrics["en"]) == {"accuracy", "macro_f1", "n"}
    gold = on_disk["models"]["tfidf_lr_gold"]
    distilled = on_disk["models"]["tfidf_lr_distilled"]
    assert gold["mean"]["accuracy"] >= 0.9
    assert distilled["mean"]["accuracy"] <= 0.1


def test_evaluate_says_which_step_to_run(tmp_path):
    toy_project(tmp_path, ["en"])
    (tmp_path / "metrics" / "teacher.json").unlink()
    with pytest.raises(evaluate.MissingInput, match="teacher.json: run train-teacher first"):
        run_evaluate(tmp_path, ["en"])
    result = CliRunner().invoke(_app(evaluate.main), ["en", "--metrics-dir", str(tmp_path / "metrics")])
    assert result.exit_code == 1 and "train-teacher" in result.output
    toy_project(tmp_path, ["en"])
    (tmp_path / "hard" / "en" / "train.spacy").unlink()
    with pytest.raises(evaluate.MissingInput, match="run the teacher's labelling step first"):
        run_evaluate(tmp_path, ["en"])
    toy_project(tmp_path, ["en"])
    with pytest.raises(ValueError, match="baseline_bow.json has no scores for ja"):
        run_evaluate(tmp_path, ["en", "ja"])
    write_json(tmp_path / "metrics" / "student_hard.json", model_metrics(0.7, ["en"], n=19))
    with pytest.raises(ValueError, match="test sets of different sizes"):
        run_evaluate(tmp_path, ["en"])
