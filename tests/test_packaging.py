"""scripts/package.py: a student packaged as a wheel that installs and runs on its own, with a model card."""
import csv
import email.parser
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest
import spacy
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from spacy.util import get_minor_version_range

from review_distill import textcat_distill  # noqa: F401  (registers the factory)
from review_distill.errors import DataError, MissingInput
from review_distill.model_card import wilson_interval
from review_distill.packaging import describe_task, package_meta, package_students, tokenizer_requirements, zero_label_meta
from review_distill.provenance import FILE_LICENSE, MARC_LICENSE, data_terms, learned_from
from review_distill.records import write_encoder_record
from review_distill.reviews import make_nlp
from review_distill.tasks import make_task, write_task
from util import (
    BOW_V3, COMPONENT, MAIN, PACKAGE_CODE, ROOT, TEACHER, TEACHER_BYTES, TEACHER_SCORES, WORDS_PER_SECOND, example,
    pip_reaches_spacy, write_card_inputs,
)

REVIEW = "Tolles Produkt, schnelle Lieferung!"
JA_REVIEW = "とても良い本です"
MARC = [{"source": "local", "labelled": 10, "unlabelled": 0}]


def wheel(tmp, lang):
    (path,) = (tmp / "packages" / f"{lang}_review_sentiment-0.1.0" / "dist").glob("*.whl")
    assert path.name == f"{lang}_review_sentiment-0.1.0-py3-none-any.whl"
    return path


def requires_dist(path):
    """The wheel's requirements, {name: specifier set}."""
    with zipfile.ZipFile(path) as whl:
        metadata = whl.read(f"{path.name.split('-py3')[0]}.dist-info/METADATA").decode("utf8")
    requirements = [Requirement(line.split(": ", 1)[1]) for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]
    return {req.name: req.specifier for req in requirements}


def test_meta_says_what_it_is(project):
    tmp, _, metrics, _ = project
    meta = json.loads((tmp / "packages" / "de_review_sentiment-0.1.0" / "meta.json").read_text())
    scores = json.loads(metrics.read_text())["de"]
    assert (meta["lang"], meta["name"], meta["version"]) == ("de", "review_sentiment", "0.1.0")
    assert meta["description"] == (
        "German product-review sentiment classifier: labels a review POS (3-5 stars) or NEG (1-2 stars). A small "
        "spaCy text classifier distilled from a multilingual transformer.")
    assert meta["task"] == "binary" and meta["labels"] == {"textcat": ["POS", "NEG"]}
    assert meta["performance"] == {"test_accuracy": scores["accuracy"], "test_macro_f1": scores["macro_f1"]}
    assert meta["teacher"] == TEACHER and TEACHER in meta["notes"]
    assert "academic research only" in meta["data_caveat"] and meta["data_caveat"] in meta["notes"]
    assert meta["sources"][0]["name"] == "Multilingual Amazon Reviews Corpus (MARC)"
    assert meta["license"].startswith("No licence set")


def model_card(tmp, package):
    return (tmp / "packages" / f"{package}-0.1.0" / "README.md").read_text(encoding="utf8")


def test_the_card_reports_the_runs_figures(project):
    """The de package's README.md: its test scores with 95% intervals, the teacher's, the data, speed and
    size, limits, MARC's licence and how to use it, from the metrics and records of the run."""
    tmp, _, metrics, _ = project
    card = model_card(tmp, "de_review_sentiment")
    meta = json.loads((tmp / "packages" / "de_review_sentiment-0.1.0" / "meta.json").read_text())
    assert card.startswith(f"# de_review_sentiment 0.1.0\n\n{meta['description']}\n")
    assert "| model | accuracy (95% CI) | macro-F1 | ECE | Brier | reviews |" in card
    for model, scores in (("student (`student_bow`)", json.loads(metrics.read_text())["de"]), ("teacher", TEACHER_SCORES)):
        low, high = wilson_interval(scores["accuracy"], scores["n"])
        assert (f"| {model} | {scores['accuracy']:.3f} ({low:.3f}–{high:.3f}) | {scores['macro_f1']:.3f} | "
                f"{scores['ece']:.3f} | {scores['brier']:.3f} | {scores['n']:,} |") in card
    marc = "Multilingual Amazon Reviews Corpus (MARC), a local copy"
    assert f"- Reviews: {marc} (64 labelled and 0 unlabelled reviews read)." in card
    assert f"- The teacher learned from the gold reviews of de, zh, ja: {marc}." in card
    assert "- Task: binary; labels POS (3-5 stars), NEG (1-2 stars)." in card
    assert "- Reviews per split: train 16, dev 8, test 8, pool 0." in card
    assert f"- Teacher: {TEACHER}." in card
    ratio = WORDS_PER_SECOND["student_bow"] / WORDS_PER_SECOND["teacher"]
    assert (f"- Student: {WORDS_PER_SECOND['student_bow']:,.0f} words/s; teacher: {WORDS_PER_SECOND['teacher']:,.0f} "
            f"words/s: {ratio:,.0f}× the teacher's (one process, a test CPU).") in card
    assert re.search(rf"- Pipeline: \d+\.\d MB on disk; the teacher: {TEACHER_BYTES / 1e6:.0f} MB.", card)
    assert "- Made for product reviews from Amazon's marketplaces, as in MARC, in German." in card
    assert "- Not tested on other domains or other languages" in card and "Zero-label" not in card
    assert "Out of its domain" not in card
    assert ("- Out of its domain, on 1,000 hotel reviews (`zh_hotels`, as many of each label): accuracy 0.701, the "
            "teacher's 0.862.\n- Not tested on other domains than these or on other languages") in model_card(
        tmp, "zh_review_sentiment")
    assert f"Package licence: {MARC_LICENSE}." in card and meta["data_caveat"] in card
    assert "academic research only" in card
    assert 'nlp = spacy.load("de_review_sentiment")' in card and 'python -m de_review_sentiment "A review."' in card


@pytest.mark.parametrize("accuracy, n, interval", [
    (0.5, 100, (0.4038, 0.5962)), (0.0, 10, (0.0, 0.2775)), (1.0, 10, (0.7225, 1.0)), (0.8, 1000, (0.7741, 0.8236)),
])
def test_wilson_interval(accuracy, n, interval):
    assert wilson_interval(accuracy, n) == pytest.approx(interval, abs=1e-4)


def test_the_wheel_carries_the_card_as_its_description(project):
    """setup.py makes the README.md the wheel's long description (what importlib.metadata gives an
    installed package as its Description), and the pipeline's directory installs it too."""
    tmp = project[0]
    card = model_card(tmp, "de_review_sentiment")
    with zipfile.ZipFile(wheel(tmp, "de")) as whl:
        metadata = whl.read("de_review_sentiment-0.1.0.dist-info/METADATA").decode("utf8")
        installed = whl.read("de_review_sentiment/de_review_sentiment-0.1.0/README.md").decode("utf8")
    assert email.parser.Parser().parsestr(metadata).get_payload().strip() == card.strip()
    assert installed == card


def test_wheel_ships_the_component_and_imports_it(project):
    """The wheel holds each component module and the __main__.py, and its __init__.py imports the
    modules as `spacy package --code` would."""
    with zipfile.ZipFile(wheel(project[0], "de")) as whl:
        names = set(whl.namelist())
        init = whl.read("de_review_sentiment/__init__.py").decode("utf8")
    assert {f"de_review_sentiment/{path.name}" for path in PACKAGE_CODE} | {"de_review_sentiment/__main__.py"} <= names
    assert [line for line in init.splitlines() if line.startswith("from . import")] == [
        f"from . import {path.stem}" for path in PACKAGE_CODE]


def test_wheel_requires_spacy_and_the_tokenizers_packages(project):
    tmp = project[0]
    spacy_range = SpecifierSet(get_minor_version_range(spacy.about.__version__))
    assert requires_dist(wheel(tmp, "de")) == {"spacy": spacy_range}
    assert requires_dist(wheel(tmp, "zh")) == {"spacy": spacy_range, "jieba": SpecifierSet(">=0.42.1,<0.43.0")}
    assert requires_dist(wheel(tmp, "ja")) == {"spacy": spacy_range}  # its tokenizer is in the package's code
    ja = tokenizer_requirements({"nlp": {"tokenizer": {"@tokenizers": "spacy.ja.JapaneseTokenizer", "split_mode": None}}})
    assert [Requirement(req).name for req in ja] == ["sudachipy", "sudachidict-core"]


def test_wheel_holds_no_training_text_and_predicts_as_trained(project):
    """The training texts' words are in the trained pipeline's strings but nowhere in the
    wheel; the packaged pipeline predicts exactly as the trained one."""
    tmp, training, _, train_texts = project
    for lang, texts in train_texts.items():
        blank = set(make_nlp(lang).vocab.strings)
        trained = spacy.load(training / lang / "model-best")
        words = {token.text for doc in trained.pipe(texts) for token in doc} - blank
        strings = json.loads((training / lang / "model-best" / "vocab" / "strings.json").read_text(encoding="utf8"))
        assert words and words <= set(strings)
        with zipfile.ZipFile(wheel(tmp, lang)) as whl:
            contents = [whl.read(name) for name in whl.namelist()]
        assert not [word for word in words if any(word.encode("utf8") in content for content in contents)]
        package_dir = tmp / "packages" / f"{lang}_review_sentiment-0.1.0" / f"{lang}_review_sentiment"
        packaged = spacy.load(package_dir / f"{lang}_review_sentiment-0.1.0")
        assert [doc.cats for doc in packaged.pipe(texts)] == [doc.cats for doc in trained.pipe(texts)]


def test_wheel_alone_installs_and_predicts_in_a_fresh_venv(project, tmp_path):
    """As the README says: pip install the wheel into a new virtual environment (spaCy and
    its dependencies come from the package index, torch does not), then spacy.load it; the ja
    pipeline, which splits into characters, needs no SudachiPy."""
    if not pip_reaches_spacy():
        pytest.skip(f"pip cannot reach a package index with spacy=={spacy.about.__version__} (PyPI), "
                    "which installing the wheel's dependencies needs")
    tmp, training, _, _ = project
    subprocess.run([sys.executable, "-m", "venv", tmp_path / "venv"], check=True)
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", wheel(tmp, "de"), wheel(tmp, "ja")], check=True)
    script = f"""
import importlib.util, json, spacy
from ja_review_sentiment.textcat_explain import explain
nlp = spacy.load("de_review_sentiment")
ja = spacy.load("ja_review_sentiment")
hostile = ["", "  ", "Toll \\ud83d", "\\udc00"]  # empty, blank, half an emoji
why = explain(ja, {JA_REVIEW!r})
print(json.dumps({{"cats": nlp({REVIEW!r}).cats, "meta": nlp.meta, "torch": bool(importlib.util.find_spec("torch")),
                  "ja_cats": ja({JA_REVIEW!r}).cats, "ja_tokens": [t.text for t in ja({JA_REVIEW!r})],
                  "sudachipy": bool(importlib.util.find_spec("sudachipy")),
                  "why": [why.logit_diff, why.bias, [[c.feature, c.weight, c.spans] for c in why.contributions]],
                  "hostile": [[doc.cats for doc in model.pipe(hostile)] + [model(text).cats for text in hostile]
                              for model in (nlp, ja)]}}))
"""
    result = subprocess.run([python, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.splitlines()[-1])
    assert set(out["cats"]) == {"POS", "NEG"} and sum(out["cats"].values()) == pytest.approx(1.0)
    assert out["cats"] == pytest.approx(spacy.load(training / "de" / "model-best")(REVIEW).cats)
    meta = json.loads((tmp / "packages" / "de_review_sentiment-0.1.0" / "meta.json").read_text())
    assert {**out["meta"], "vectors": None} == {**meta, "vectors": None}  # spaCy adds the vectors' mode
    assert not out["torch"]
    assert out["ja_cats"] == pytest.approx(spacy.load(training / "ja" / "model-best")(JA_REVIEW).cats)
    assert out["ja_tokens"] == list(JA_REVIEW) and not out["sudachipy"]
    for cats_list in out["hostile"]:  # a distribution for each, in a batch or alone
        assert all(set(cats) == {"POS", "NEG"} and sum(cats.values()) == pytest.approx(1.0) for cats in cats_list)
        assert cats_list[:4] == cats_list[4:]
    logit_diff, bias, contributions = out["why"]
    assert bias + sum(weight for _, weight, _ in contributions) == pytest.approx(logit_diff, abs=1e-5)
    assert all(JA_REVIEW[start:end] == feature for feature, _, spans in contributions for start, end in spans)
    cli = subprocess.run([python, "-I", "-m", "de_review_sentiment", "--top-k", "3", REVIEW], cwd=tmp_path,
                         capture_output=True, text=True)
    assert cli.returncode == 0 and not cli.stderr, cli.stderr[-2000:]
    label = max(out["cats"], key=out["cats"].get)
    assert cli.stdout.startswith(f"{label} {out['cats'][label]:.3f}") and "(bias)" in cli.stdout
    reviews = tmp_path / "reviews.csv"
    broken = {17: "17,caf\xe9 in Latin-1\n".encode("latin-1"), 4242: b"4242\n", 9000: b"9000,a,b\n"}
    reviews.write_bytes(b"id,body\n" + b"".join(
        broken.get(i, f'{i},"{REVIEW if i % 2 else "Leider kaputt"} {i}"\n'.encode()) for i in range(10_000)))
    score = subprocess.run([python, "-I", "-m", "de_review_sentiment", "score", reviews, "--text-column", "body",
                            "-o", tmp_path / "scored.csv"], cwd=tmp_path, capture_output=True, text=True)
    assert score.returncode == 0, score.stderr[-2000:]
    assert [line for line in score.stderr.splitlines() if " line " in line] == [
        f"{reviews} line 19: not UTF-8; left out",
        f"{reviews} line 4244: 1 fields, where the header has 2; left out",
        f"{reviews} line 9002: 3 fields, where the header has 2; left out"]
    with (tmp_path / "scored.csv").open(encoding="utf8") as f:
        scored = list(csv.DictReader(f))
    assert len(scored) == 9_997 and {row["id"] for row in scored}.isdisjoint(map(str, broken))
    trained = spacy.load(training / "de" / "model-best")
    for row in scored[:50]:
        assert float(row["p_POS"]) == pytest.approx(trained(row["body"]).cats["POS"], abs=1e-6)


def test_clear_errors(project, tmp_path):
    tmp, training, metrics, _ = project
    options = dict(summary_path=tmp / "metrics" / "summary.json", metrics_dir=metrics.parent, splits_dir=tmp / "corpus",
                   code=PACKAGE_CODE, main_module=MAIN, name="review_sentiment", version="0.1.0", teacher=TEACHER,
                   teacher_dir=tmp / "no_teacher", data_license="", unlabeled=[])

    def failure(languages, error_type=MissingInput, **changed):
        with pytest.raises(error_type) as error:
            package_students(training.parent, tmp_path / "out", languages, **{**options, **changed})
        return str(error.value)

    message = failure(["de", "fr"])
    assert f"No trained student at {training / 'fr' / 'model-best'}: run the student's training step for fr first" in message
    only_zh = tmp_path / "metrics"
    only_zh.mkdir()
    (only_zh / "student_bow.json").write_text(json.dumps({"zh": json.loads(metrics.read_text())["zh"]}))
    assert f"{only_zh / 'student_bow.json'} has no test scores for de" in failure(["de"], metrics_dir=only_zh)
    other = tmp_path / "summary.json"
    other.write_text(json.dumps({"default_student": "student_xl"}))
    assert f"Missing {metrics.parent / 'student_xl.json'}: run the step that trains student_xl first" in failure(
        ["de"], summary_path=other)
    assert f"Missing file {tmp_path / 'task.json'}: run `spacy project run preprocess` first" in failure(
        ["de"], splits_dir=tmp_path)
    write_task(tmp_path / "task.json", make_task("three_way"))
    assert (f"The student at {training / 'de' / 'model-best'} has the labels ['POS', 'NEG'], but the task is three_way "
            "with the labels ['NEG', 'NEU', 'POS']: train the students again") in failure(
        ["de"], DataError, splits_dir=tmp_path)
    splits = tmp_path / "splits"
    shutil.copytree(tmp / "corpus", splits)
    (splits / "source.json").unlink()
    assert f"Missing file {splits / 'source.json'}: run `spacy project run preprocess` first" in failure(
        ["de"], splits_dir=splits)
    shutil.copy(tmp / "corpus" / "source.json", splits)
    (splits / "de" / "stats.json").unlink()
    assert f"Missing {splits / 'de' / 'stats.json'}: run `spacy project run preprocess` first" in failure(
        ["de"], splits_dir=splits)
    card_metrics = tmp_path / "card_metrics"
    shutil.copytree(metrics.parent, card_metrics)
    for name, step in (("benchmark.json", "benchmark"), ("teacher.json", "teacher-train")):
        (card_metrics / name).unlink()
        assert f"Missing {card_metrics / name}: run `spacy project run {step}` first" in failure(
            ["de"], metrics_dir=card_metrics)
    zh_only = tmp_path / "zh_only" / "metrics"
    write_card_inputs(zh_only.parent, {"zh": MARC[0]}, {"zh": TEACHER_SCORES}, {})
    shutil.copy(metrics, zh_only)
    assert (f"{zh_only / 'teacher.json'} has no test scores for de: run `spacy project run teacher-train` with it "
            "first") in failure(["de"], metrics_dir=zh_only)
    shutil.copy(metrics.parent / "teacher.json", zh_only)
    assert (f"{zh_only / 'benchmark.json'} has no words/s of student_bow for de: run `spacy project run benchmark` "
            "with it first") in failure(["de"], metrics_dir=zh_only)
    assert (f"Missing {tmp_path / 'teacher' / 'config.cfg'}: run `spacy project run teacher-train` first, or "
            "describe the teacher in the var teacher_description") in failure(
        ["de"], teacher="", teacher_dir=tmp_path / "teacher")
    assert not (tmp_path / "out").exists()  # nothing packaged before the checks


def test_cli_exits_with_the_message(project, tmp_path):
    """scripts/package.py: a missing input is its message and exit status 1, as is a missing --code file."""
    tmp, training, metrics, _ = project
    command = [sys.executable, str(ROOT / "scripts" / "package.py"), str(training.parent), str(tmp_path / "out"), "fr",
               "--summary", str(tmp / "metrics" / "summary.json"), "--metrics-dir", str(metrics.parent),
               "--splits-dir", str(tmp / "corpus"), "--main", str(MAIN), "--name", "review_sentiment",
               "--teacher", TEACHER]
    for code, message in ((",".join(map(str, COMPONENT)), "No trained student at"),
                          (f"{COMPONENT[0]},{tmp_path / 'nothing.py'}", "Missing --code file")):
        result = subprocess.run([*command, "--code", code], capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 1 and message in " ".join(result.stdout.split()), result.stdout + result.stderr


def test_a_zero_label_students_meta_says_it_saw_no_gold_labels(project):
    tmp, training, metrics, _ = project
    nlp = spacy.load(training / "de" / "model-best")
    scores = {"accuracy": 0.9, "macro_f1": 0.89, "n": 40}
    meta = package_meta(nlp, scores, "review_sentiment", "0.1.0", TEACHER, make_task("binary"), MARC, "")
    tested = zero_label_meta(meta, "German", {**scores, "zero_label": True}, ["en", "ja"])
    assert tested["gold_labels"] is False and tested["performance"] == meta["performance"]
    assert "saw no gold German label: the teacher learned from gold reviews of en, ja only" in tested["zero_label"]
    assert tested["zero_label"] in tested["description"] and tested["zero_label"] in tested["notes"]
    assert tested["notes"].startswith("Test accuracy 0.900") and "Zero-label" in tested["notes"]
    dev = zero_label_meta(meta, "German", {**scores, "labels": "teacher-labelled dev"}, ["en"])
    assert dev["performance"] == {"teacher_labelled_dev_accuracy": 0.9, "teacher_labelled_dev_macro_f1": 0.89}
    assert dev["notes"].startswith("No gold-labelled German test reviews") and meta["data_caveat"] in dev["notes"]


@pytest.mark.parametrize("task, described", [
    (make_task("binary"), "product-review sentiment classifier: labels a review POS (3-5 stars) or NEG (1-2 stars)"),
    (make_task("three_way"),
     "product-review sentiment classifier: labels a review NEG (1-2 stars), NEU (3 stars) or POS (4-5 stars)"),
    (make_task("stars"), "product-review rating classifier: labels a review with its stars, 1 to 5"),
    (make_task("categories", ["toys", "books", "garden"]), "review classifier: labels a review as books, garden or toys"),
    (make_task("categories", ["spam", "ham"]), "review classifier: labels a review as ham or spam"),
], ids=["binary", "three_way", "stars", "categories", "two_categories"])
def test_meta_describes_the_task(task, described):
    nlp = make_nlp("de")
    scores = {"accuracy": 0.61, "macro_f1": 0.58, "n": 50}
    meta = package_meta(nlp, scores, "review_x", "0.1.0", TEACHER, task, MARC, "")
    assert describe_task(task) == described
    assert meta["description"] == f"German {described}. A small spaCy text classifier distilled from a multilingual transformer."
    assert meta["task"] == task.name and meta["performance"] == {"test_accuracy": 0.61, "test_macro_f1": 0.58}
    assert meta["notes"].startswith("Test accuracy 0.610, macro-F1 0.580, on 50 held-out German reviews.")
    said = zero_label_meta(meta, "German", scores, ["en"])
    assert said["description"].startswith(f"German {described}. A small") and said["task"] == task.name


STARS = ("1", "2", "3", "4", "5")
STARS_SCORES = {"accuracy": 0.6, "macro_f1": 0.5, "n": 15, "ece": 0.1, "brier": 0.6, "mae": 0.5, "within_one": 0.9}
STARS_TEACHER_SCORES = {**STARS_SCORES, "accuracy": 0.8, "mae": 0.2, "within_one": 1.0}
# A user's own file of German reviews, as the data step records it.
STARS_FILE = {"source": "file", "file": "meine_bewertungen.csv", "labelled": 27, "unlabelled": 4}
STAR_WORDS = ["furchtbar", "schlecht", "okay", "gut", "toll"]


@pytest.fixture(scope="module")
def stars_project(tmp_path_factory):
    """A toy German student over the five stars, packaged as de_review_stars."""
    tmp = tmp_path_factory.mktemp("stars")
    nlp = make_nlp("de")
    nlp.add_pipe("textcat_distill", name="textcat", config={"model": BOW_V3})
    examples = [example(nlp, {label: 0.6 if label == STARS[i] else 0.1 for label in STARS}, f"{word} {thing}")
                for i, word in enumerate(STAR_WORDS) for thing in ("Produkt", "Buch", "Schuh")]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(20):
        nlp.update(examples, sgd=optimizer)
    model_dir = tmp / "training" / "student_bow" / "de" / "model-best"
    model_dir.parent.mkdir(parents=True)
    nlp.to_disk(model_dir)
    (tmp / "metrics").mkdir()
    (tmp / "corpus").mkdir()
    (tmp / "metrics" / "student_bow.json").write_text(json.dumps({"de": STARS_SCORES}))
    (tmp / "metrics" / "summary.json").write_text(json.dumps({"default_student": "student_bow"}))
    write_task(tmp / "corpus" / "task.json", make_task("stars"))
    write_card_inputs(tmp, {"de": STARS_FILE}, {"de": STARS_TEACHER_SCORES}, {"train": 9, "dev": 3, "test": 15, "pool": 4})
    encoder = tmp / "assets" / "teacher_model"
    encoder.mkdir(parents=True)
    write_encoder_record(encoder, "a test encoder")
    teacher_dir = tmp / "training" / "teacher" / "model-best"
    teacher_dir.mkdir(parents=True)
    (teacher_dir / "config.cfg").write_text(
        f'[paths]\nteacher_model = "{encoder}"\n\n[components]\n\n[components.transformer]\nfactory = "transformer"\n\n'
        "[components.transformer.model]\nname = ${paths.teacher_model}\n")
    package_students(
        tmp / "training", tmp / "packages", ["de"], summary_path=tmp / "metrics" / "summary.json",
        metrics_dir=tmp / "metrics", splits_dir=tmp / "corpus", code=PACKAGE_CODE, main_module=MAIN, name="review_stars",
        version="0.1.0", teacher="", teacher_dir=teacher_dir, data_license="", unlabeled=[],
    )
    return tmp, nlp


def test_a_stars_package_is_named_and_described_by_its_task(stars_project):
    """package_name review_stars: de_review_stars, its meta.json names the task and the five labels,
    and the packaged pipeline predicts as the trained one."""
    tmp, trained = stars_project
    package_dir = tmp / "packages" / "de_review_stars-0.1.0"
    (whl,) = (package_dir / "dist").glob("*.whl")
    assert whl.name == "de_review_stars-0.1.0-py3-none-any.whl"
    meta = json.loads((package_dir / "meta.json").read_text())
    assert (meta["name"], meta["task"], meta["labels"]) == ("review_stars", "stars", {"textcat": list(STARS)})
    assert meta["description"].startswith("German product-review rating classifier: labels a review with its stars, 1 to 5.")
    assert "POS" not in json.dumps(meta) and "NEG" not in json.dumps(meta)
    with zipfile.ZipFile(whl) as whl_file:
        assert "de_review_stars/__main__.py" in whl_file.namelist()
    packaged = spacy.load(package_dir / "de_review_stars" / "de_review_stars-0.1.0")
    texts = [f"{word} Lampe" for word in STAR_WORDS]
    assert [doc.cats for doc in packaged.pipe(texts)] == [doc.cats for doc in trained.pipe(texts)]


def test_a_file_runs_package_names_the_file_no_marc_licence_and_the_derived_teacher(stars_project):
    """Data from a user's file: the file's name, its unstated licence and no word of MARC; the teacher as the
    trained one was (its encoder's record, the languages, the task); MAE and within-one in the card."""
    tmp, _ = stars_project
    meta = json.loads((tmp / "packages" / "de_review_stars-0.1.0" / "meta.json").read_text())
    card = model_card(tmp, "de_review_stars")
    assert meta["sources"] == [{"name": "meine_bewertungen.csv", "license": "its owner's, not stated"}]
    assert meta["license"] == FILE_LICENSE and "was not stated" in meta["data_caveat"]
    assert not [text for text in ("MARC", "Amazon", "academic") if text in json.dumps(meta) or text in card]
    assert meta["teacher"] == ("a test encoder, fine-tuned with spacy-transformers on the gold train sets of de for "
                               "the stars task")
    assert f"- Teacher: {meta['teacher']}." in card and meta["data_caveat"] in card
    assert "- Reviews: the file meine_bewertungen.csv (27 labelled and 4 unlabelled reviews read)." in card
    assert "- The teacher learned from the gold reviews of de: the file meine_bewertungen.csv." in card
    assert "- Made for reviews like those of meine_bewertungen.csv, in German." in card
    assert "- Task: stars; labels 1, 2, 3, 4 and 5, the review's stars." in card
    assert "| model | accuracy (95% CI) | macro-F1 | ECE | Brier | MAE | within one | reviews |" in card
    assert "| 0.500 | 0.900 | 15 |" in card and "| 0.200 | 1.000 | 15 |" in card


def test_data_terms_state_each_source_learned_from():
    """MARC's licence for MARC data, a stated licence for a file, and both for a file language whose teacher
    learned from MARC."""
    marc = data_terms(MARC, "")
    assert marc["license"] == MARC_LICENSE and "academic research only" in marc["data_caveat"]
    assert [source["name"] for source in marc["sources"]] == ["Multilingual Amazon Reviews Corpus (MARC)"]
    shop = {"source": "file", "file": "shop.csv", "labelled": 5, "unlabelled": 0}
    stated = data_terms([shop], "CC BY 4.0")
    assert stated["license"] == "CC BY 4.0" and stated["sources"] == [{"name": "shop.csv", "license": "CC BY 4.0"}]
    assert "under their owner's licence: CC BY 4.0" in stated["data_caveat"] and "MARC" not in json.dumps(stated)
    learned = learned_from({"en": MARC[0], "de": {**MARC[0], "source": "mirror"}, "nl": shop}, "nl", ["en", "de"])
    assert learned == [shop, MARC[0]]
    both = data_terms(learned, "")
    assert [source["name"] for source in both["sources"]] == ["Multilingual Amazon Reviews Corpus (MARC)", "shop.csv"]
    assert both["license"] == MARC_LICENSE and "academic research only" in both["data_caveat"]
    assert "shop.csv it learned from are under their owner's licence, which was not stated" in both["data_caveat"]


def test_a_stars_packages_cli_prints_every_label_and_the_runner_up(stars_project):
    """`python -m de_review_stars TEXT`: the five stars' probabilities, most likely first, then the
    contributions to the predicted label's logit minus the runner-up's."""
    tmp, trained = stars_project
    package_dir = tmp / "packages" / "de_review_stars-0.1.0"
    text = "toll Produkt"
    cli = subprocess.run([sys.executable, "-m", "de_review_stars", "--top-k", "2", "--color", "never", text],
                         cwd=package_dir, env={**os.environ, "PYTHONPATH": str(package_dir)}, capture_output=True,
                         text=True)
    assert cli.returncode == 0, cli.stderr[-2000:]
    cats = trained(text).cats
    ranked = sorted(STARS, key=lambda label: -cats[label])
    assert ranked[0] == "5"
    lines = cli.stdout.splitlines()
    assert lines[0] == f"{ranked[0]} {cats[ranked[0]]:.3f} (" + ", ".join(
        f"{label} {cats[label]:.3f}" for label in ranked[1:]) + ")"
    assert lines[1] == text and lines[2].startswith(f"Contributions to logit({ranked[0]}) - logit({ranked[1]}) = ")
