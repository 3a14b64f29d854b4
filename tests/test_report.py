"""evaluate.py and benchmark.py on toy metrics, a toy corpus and tiny pipelines."""
import json
import re

import pytest
import spacy
import typer
from spacy.tokens import DocBin
from typer.testing import CliRunner

import benchmark
import evaluate
from benchmark import ModelSpec
from conftest import ROOT

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


# --- benchmark.py ------------------------------------------------------------------------------


def tiny_pipeline(lang, factory="textcat"):
    nlp = spacy.blank(lang)
    nlp.add_pipe(factory, config={"model": {"@architectures": "spacy.TextCatBOW.v3", "exclusive_classes": True,
                                            "ngram_size": 1, "no_output_layer": False, "length": 1024}})
    nlp.initialize(lambda: [spacy.training.Example.from_dict(nlp.make_doc(doc.text), {"cats": doc.cats})
                            for doc in toy_docs(4)])
    return nlp


def test_speed_is_measured_on_raw_texts_with_the_given_word_counts():
    nlp = tiny_pipeline("en")
    texts = [doc.text for doc in toy_docs(30)]
    speed = benchmark.measure_speed(nlp, texts, [10] * 30, batch_size=8, repeats=3, warmup=5)
    assert len(speed["seconds_per_pass"]) == 3
    seconds = sorted(speed["seconds_per_pass"])[1]
    assert speed["words_per_second"] == pytest.approx(300 / seconds)
    assert speed["docs_per_second"] == pytest.approx(30 / seconds)
    assert 0 < speed["cpu_per_wall"] < 4
    low, high = speed["batch_words_per_second_ci95"]
    assert 0 < low <= high
    with pytest.raises(ValueError, match="a word count per text"):
        benchmark.measure_speed(nlp, texts, [10], batch_size=8, repeats=1, warmup=0)


def test_benchmark_measures_each_model_in_a_process_of_its_own(tmp_path):
    """A multilingual "teacher" (one process for both languages) and per-language students
    with the textcat_distill factory (its code imported in the child)."""
    import textcat_distill  # noqa: F401  (registers the factory)

    languages = ["en", "de"]
    tiny_pipeline("xx").to_disk(tmp_path / "teacher")
    for lang in languages:
        (tmp_path / "student").mkdir(exist_ok=True)
        tiny_pipeline(lang, "textcat_distill").to_disk(tmp_path / "student" / lang)
    specs = [
        ModelSpec("teacher", {lang: tmp_path / "teacher" for lang in languages}, True, None, 4, 1),
        ModelSpec("student_bow", {lang: tmp_path / "student" / lang for lang in languages}, False,
                  ROOT / "scripts" / "textcat_distill.py", 8, 2),
    ]
    texts = {lang: [doc.text for doc in toy_docs(12)] for lang in languages}
    result = benchmark.benchmark_models(specs, texts, warmup=3)
    words = sum(len(doc) for doc in spacy.blank("en").pipe(texts["en"]))
    assert result["n_docs"] == {"en": 12, "de": 12} and result["n_words"]["en"] == words
    assert result["machine"]["cpu_count"] >= 1
    teacher, student = result["models"]["teacher"], result["models"]["student_bow"]
    assert teacher["size_bytes"] == benchmark.dir_size(tmp_path / "teacher") > 0
    assert teacher["load_seconds"] > 0 and teacher["peak_rss_bytes"] > 50e6
    assert set(student["size_bytes"]) == set(languages) and student["size_bytes"]["de"] > 0
    assert all(student[key][lang] > 0 for key in ("load_seconds", "peak_rss_bytes") for lang in languages)
    for model in (teacher, student):
        assert all(model[key][lang] > 0 for key in ("words_per_second", "docs_per_second") for lang in languages)
        assert model["words_per_second"]["en"] / model["docs_per_second"]["en"] == pytest.approx(words / 12)
    assert len(student["timing"]["en"]["seconds_per_pass"]) == 2 and student["batch_size"] == 8


def test_speed_ratios_and_targets():
    models = {"teacher": {"words_per_second": {"en": 1000.0, "ja": 1000.0}},
              "tokenizer": {"words_per_second": {"en": 300000.0, "ja": 200000.0}},
              "student_bow": {"words_per_second": {"en": 99000.0, "ja": 150000.0}}}
    ratios = benchmark.speed_ratios(models, "student_bow", ["en", "ja"])
    assert ratios == {"vs_teacher": {"en": 99.0, "ja": 150.0}, "vs_tokenizer": {"en": 0.33, "ja": 0.75}}
    missed = benchmark.missed_targets(ratios)
    assert missed == ["en: 99x the teacher's words/s, below the target of 100x",
                      "en: 0.33x the tokenizer's words/s, below the target of 0.5x"]
    assert benchmark.speed_ratios(models, "student_hard", ["en"]) == {}


def test_benchmark_says_what_is_missing(tmp_path):
    spec = ModelSpec("student_hard", {"en": tmp_path / "student_hard" / "en" / "model-best"})
    with pytest.raises(benchmark.MissingInput, match=re.escape("Missing the student_hard model for en")):
        benchmark.benchmark_models([spec], {"en": ["a text"]})
    result = CliRunner().invoke(benchmark.app, ["run", "en", "--splits-dir", str(tmp_path / "splits"),
                                                "--training-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "test.spacy: run `spacy project run preprocess` first" in " ".join(result.output.split())
