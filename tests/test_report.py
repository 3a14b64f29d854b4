"""The evaluate, benchmark and report steps on toy metrics, a toy corpus and tiny pipelines."""
import json
import re

import pytest
import spacy
from spacy.tokens import DocBin

from review_distill import benchmark, evaluation, measure, plot, report, speed_target, summary as summaries, tfidf_lr
from review_distill.benchmark import ModelSpec
from review_distill.errors import MissingInput, ProjectError
from review_distill.models import ABLATIONS, CORE_MODELS
from review_distill.tasks import make_task, write_task
from util import ROOT, invoke_script

LANGS = ["en", "ja"]
# Mean test accuracy and words/s of each model in the toy metrics.
ACCURACY = {"baseline_bow": 0.737, "baseline_ensemble": 0.704, "teacher": 0.85, "student_bow": 0.795, "student_dan": 0.79,
            "student_ensemble": 0.78, "student_hard": 0.772, "tfidf_lr_gold": 0.752, "tfidf_lr_distilled": 0.771}
SPEED = {"teacher": 1500.0, "baseline_bow": 380000.0, "baseline_ensemble": 210000.0, "student_bow": 370000.0, "student_dan": 180000.0,
         "student_ensemble": 205000.0, "student_hard": 365000.0, "tokenizer": 620000.0, "word_tokenizer": 410000.0}
REQUIRED = ("baseline_bow", "teacher", "student", "tfidf_lr_gold", "tfidf_lr_distilled")
STUDENTS = ("student_bow",)


def model_metrics(accuracy, languages=LANGS, n=1000):
    """A metrics/{name}.json: the languages a point apart around `accuracy`."""
    scores = {lang: {"accuracy": accuracy + 0.01 * i, "macro_f1": accuracy + 0.01 * i - 0.002, "n": n,
                     "ece": 0.05 + 0.01 * i, "brier": 0.3}
              for i, lang in enumerate(languages)}
    return {**scores, "mean": {"accuracy": accuracy, "macro_f1": accuracy, "ece": 0.055, "brier": 0.3}}


def toy_evaluation():
    return {"split": "test", "languages": LANGS, "models": {m: model_metrics(a) for m, a in ACCURACY.items()}}


def toy_benchmark():
    models = {}
    for name, wps in SPEED.items():
        multilingual = name == "teacher"

        def each(value, multilingual=multilingual):
            return value if multilingual else {lang: value for lang in LANGS}

        models[name] = {
            "multilingual": multilingual, "batch_size": 64 if multilingual else 256, "repeats": 1 if multilingual else 5,
            "size_bytes": each(470e6 if multilingual else None if name.endswith("tokenizer") else 5.2e6),
            "load_seconds": each(4.0 if multilingual else 0.3), "peak_rss_bytes": each(1.9e9 if multilingual else 2.4e8),
            "torch_threads": each(2 if multilingual else None),
            "docs_per_second": {lang: wps / 60 for lang in LANGS}, "cpu_per_wall": each(1.9 if multilingual else 1.0),
            "words_per_second": {lang: wps * (1 + 0.1 * i) for i, lang in enumerate(LANGS)},
            "passes": {lang: 1 if multilingual else 40 + 5 * i for i, lang in enumerate(LANGS)},
            "n_docs": {lang: 250 if multilingual else 1000 for lang in LANGS},
        }
    models["tokenizer"]["timed_with"] = "student_bow"
    return {"languages": LANGS, "n_docs": {lang: 1000 for lang in LANGS}, "n_words": {lang: 61234 for lang in LANGS},
            "words": "tokens", "warmup_docs": 100, "min_seconds": 3.0, "processes": 1, "date": "2026-11-22T00:00:00+00:00",
            "machine": {"cpu": "Toy CPU", "cpu_count": 2, "memory_bytes": 24 * 2**30, "platform": "Linux",
                        "python": "3.11", "spacy": "3.8"}, "models": models}


def write_json(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf8")
    return path


# --- the report step -----------------------------------------------------------------------------


def test_summary_has_every_model_language_and_figure():
    summary = summaries.build_summary(toy_evaluation(), toy_benchmark(), "student_bow")
    assert summary["languages"] == LANGS and summary["default_student"] == "student_bow"
    for score in ("accuracy", "macro_f1"):
        for model in (*REQUIRED, "student_bow", "student_ensemble"):
            assert set(summary[score][model]) == set(LANGS)
            assert all(0.0 <= value <= 1.0 for value in summary[score][model].values())
    assert summary["accuracy"]["teacher"]["ja"] == pytest.approx(0.86)
    assert summary["mean_accuracy"]["teacher"] == pytest.approx(0.855)
    assert summary["accuracy"]["student"] == summary["accuracy"]["student_bow"]
    for model in ("teacher", "student", "student_bow", "student_ensemble", "student_hard", "tokenizer", "word_tokenizer"):
        assert set(summary["words_per_second"][model]) == set(LANGS)
        assert all(value > 0 for value in summary["words_per_second"][model].values())
    assert summary["size_bytes"]["teacher"] == 470e6  # one multilingual model
    assert summary["size_bytes"]["student"] == {"en": 5.2e6, "ja": 5.2e6}  # one per language
    assert "tokenizer" not in summary["size_bytes"] and "word_tokenizer" not in summary["size_bytes"]
    ratios = summary["ratios"]
    assert ratios["student_vs_teacher_words_per_second"]["ja"] == pytest.approx(370000 / 1500)
    assert ratios["student_vs_tokenizer_words_per_second"]["en"] == pytest.approx(370000 / 620000)
    assert ratios["tokenizer_vs_teacher_words_per_second"]["ja"] == pytest.approx(620000 / 1500)
    assert summary["targets_met"] == {"student_vs_teacher_words_per_second": {"en": True, "ja": True}}
    assert summary["mean_ece"]["teacher"] == pytest.approx(0.055) and summary["brier"]["student"]["ja"] == 0.3
    json.dumps(summary)  # serializable as it is

    other = summaries.build_summary(toy_evaluation(), toy_benchmark(), "student_ensemble")
    assert other["default_student"] == "student_ensemble"
    assert other["accuracy"]["student"] == other["accuracy"]["student_ensemble"]
    assert other["words_per_second"]["student"] == other["words_per_second"]["student_ensemble"]


def test_the_default_student_is_the_best_on_dev_of_those_fast_enough():
    bench = toy_benchmark()
    dev = {"student_bow": model_metrics(0.78), "student_ensemble": model_metrics(0.80), "student_hard": model_metrics(0.79)}
    candidates = ("student_bow", "student_ensemble", "student_hard")
    assert summaries.choose_student("auto", candidates, dev, bench)[0] == "student_ensemble"
    bench["models"]["student_ensemble"]["words_per_second"]["ja"] = 1500 * 1.1 * 99  # 99x the teacher in ja
    chosen, selection = summaries.choose_student("auto", candidates, dev, bench)
    assert chosen == "student_hard"
    assert selection["student_ensemble"] == {"mean_dev_accuracy": pytest.approx(0.805),
                                             "slowest_vs_teacher_words_per_second": pytest.approx(99),
                                             "fast_enough": False}
    assert summaries.choose_student("student_ensemble", candidates, dev, bench)[0] == "student_ensemble"
    for name in ("student_bow", "student_hard"):
        bench["models"][name]["words_per_second"]["en"] = 1500.0
    with pytest.raises(ValueError, match="no student runs at 100x the teacher's words/s in every language"):
        summaries.choose_student("auto", candidates, dev, bench)
    with pytest.raises(ValueError, match="no dev scores for student_dan"):
        summaries.choose_student("auto", ["student_dan"], dev, bench)


def test_report_is_built_from_the_metrics(tmp_path):
    evaluation, bench = toy_evaluation(), toy_benchmark()
    write_json(tmp_path / "dev" / "student_bow.json", model_metrics(0.79))
    labelling = {lang: {"precision": "bf16", "n_texts": 21000, "n_labelled": 21000, "seconds": 150.0, "texts_per_s": 140.0,
                        "fp32_check": {"n": 500, "argmax_agreement": 0.998, "mean_abs_diff_pos": 0.004}} for lang in LANGS}
    args = [str(write_json(tmp_path / "evaluation.json", evaluation)), str(write_json(tmp_path / "benchmark.json", bench)),
            "--summary", str(tmp_path / "summary.json"), "--output-dir", str(tmp_path / "reports"),
            "--students", "student_bow", "--dev-metrics-dir", str(tmp_path / "dev"),
            "--labelling", str(write_json(tmp_path / "labelling.json", labelling))]
    code, output = invoke_script("report", *args)
    assert code == 0, output
    assert str((tmp_path / "reports" / "report.md").resolve()) in output.replace(" ", "")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(REQUIRED) <= set(summary["accuracy"])
    png = (tmp_path / "reports" / "accuracy_vs_speed.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    before = (tmp_path / "reports" / "report.md").read_text()
    assert "![Mean test accuracy against words per second](accuracy_vs_speed.png)" in before
    teacher_row = next(line for line in before.splitlines() if line.startswith("| transformer teacher (`teacher`) | 0."))
    assert teacher_row == "| transformer teacher (`teacher`) | 0.850 | 0.860 | **0.855** |"
    assert "| student / teacher, words/s | 247× | 247× | 247× | ≥ 100× |" in before
    assert "| bare tokenizer / teacher, words/s (the ceiling) | 413× | 413× | 413× |  |" in before
    assert "no pipeline built on it" not in before
    assert "| word tokenizer of the language (`word_tokenizer`) | 256 | 410,000 | 451,000 | **430,500** | 273× |" in before
    assert "61,234 words" in before and "Toy CPU" in before
    assert "(61,234 words); the teacher on the first " + ", ".join(f"{lang} 250" for lang in LANGS) + "; warm-up" in before
    assert "more until 3 s were timed; passes made: baseline_bow 40–45, baseline_ensemble 40–45, teacher 1," in before
    assert "- `student_bow` and `tokenizer` were timed in turns, a pass each, in one process," in before
    assert "| student BOW (default) (`student_bow`) | 0.795 | 247× | yes |" in before
    assert "| transformer teacher (`teacher`) | 0.050 | 0.060 | **0.055** | 0.300 |" in before
    assert "| en | bf16 | 21,000 | 140.0 | 99.8% of 500 | 0.004 |" in before

    evaluation["models"]["teacher"]["ja"]["accuracy"] = 0.9123
    bench["models"]["teacher"]["words_per_second"]["en"] = 370000 / 50
    write_json(tmp_path / "evaluation.json", evaluation)
    write_json(tmp_path / "benchmark.json", bench)
    code, output = invoke_script("report", *args)
    assert code == 1 and "no student runs at 100x the teacher's words/s" in output
    assert invoke_script("report", *args, "--student", "student_bow")[0] == 0
    after = (tmp_path / "reports" / "report.md").read_text()
    assert "| transformer teacher (`teacher`) | 0.850 | 0.912 | **0.881** |" in after
    assert teacher_row not in after
    assert "| student / teacher, words/s | 50× | 247× | 148× | ≥ 100× |" in after
    assert "**Speed target missed** in: en (student vs teacher words per second: 50×)." in after
    assert ("The bare tokenizer alone is below 100× the teacher's words/s in en 84×: no pipeline built on it "
            "can reach that target there.") in after
    assert json.loads((tmp_path / "summary.json").read_text())["accuracy"]["teacher"]["ja"] == 0.9123


def test_plot_labels_do_not_overlap_even_when_the_markers_do(tmp_path):
    evaluation, bench = toy_evaluation(), toy_benchmark()
    for name in ("baseline_bow", "baseline_ensemble", "student_bow", "student_dan", "student_ensemble", "student_hard"):
        evaluation["models"][name] = model_metrics(0.78)
        bench["models"][name]["words_per_second"] = {lang: 300000.0 for lang in LANGS}
    evaluation["models"]["tfidf_lr_gold"] = evaluation["models"]["tfidf_lr_distilled"]
    summary = summaries.build_summary(evaluation, bench, "student_bow")
    labels = plot.plot_accuracy_vs_speed(summary, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 10_000
    texts = [label.get_text() for label in labels]
    assert len(labels) == 10  # the tokenizer line, two peers' lines, seven models
    assert any(text.startswith("student BOW (default)\n0.785") for text in texts)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(labels[0].figure).get_renderer()
    boxes = [plot._text_box(label, renderer) for label in labels]
    figure_box = labels[0].figure.bbox
    for i, box in enumerate(boxes):
        assert figure_box.x0 <= box.x0 and box.x1 <= figure_box.x1 and figure_box.y0 <= box.y0 and box.y1 <= figure_box.y1
        for j in range(i):
            assert not box.overlaps(boxes[j]), (texts[i], texts[j])


def test_report_says_what_is_missing(tmp_path):
    write_json(tmp_path / "evaluation.json", toy_evaluation())
    code, output = invoke_script("report", tmp_path / "evaluation.json", tmp_path / "nope.json",
                                 "--output-dir", tmp_path / "reports", "--students", "student_bow")
    assert code == 1
    assert "run `spacy project run benchmark` first" in output
    evaluation = toy_evaluation()
    del evaluation["models"]["tfidf_lr_gold"]
    with pytest.raises(ValueError, match="no scores for tfidf_lr_gold"):
        summaries.build_summary(evaluation, toy_benchmark(), "student_bow")
    with pytest.raises(ValueError, match="no scores for student_xl"):
        summaries.build_summary(toy_evaluation(), toy_benchmark(), "student_xl")
    for tokenizer in ("tokenizer", "word_tokenizer"):
        bench = toy_benchmark()
        del bench["models"][tokenizer]
        with pytest.raises(ValueError, match=f"no figures for {tokenizer}"):
            summaries.build_summary(toy_evaluation(), bench, "student_bow")


# --- the evaluate step ---------------------------------------------------------------------------

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
    write_task(tmp_path / "splits" / "task.json", make_task("binary"))
    for lang in languages:
        write_docbin(tmp_path / "splits" / lang / "train.spacy", toy_docs(40))
        write_docbin(tmp_path / "splits" / lang / "test.spacy", toy_docs(20, offset=3))
        write_docbin(tmp_path / "hard" / lang / "train.spacy", toy_docs(40, offset=1, flip=flip_hard))
    for name in (*CORE_MODELS, *STUDENTS, *ABLATIONS):
        write_json(tmp_path / "metrics" / f"{name}.json", model_metrics(ACCURACY[name], languages, n=20))


def run_evaluate(tmp_path, languages=LANGS):
    return evaluation.evaluate(languages, tmp_path / "metrics", tmp_path / "splits", tmp_path / "hard",
                             tmp_path / "metrics" / "evaluation.json", STUDENTS, seed=0)


def test_tfidf_peers_learn_the_gold_and_the_teachers_labels(tmp_path):
    """The gold peer learns the toy task; the distilled one learns from corpus/hard, here with
    every label flipped, so it gets the test set backwards."""
    toy_project(tmp_path)
    result = run_evaluate(tmp_path)
    on_disk = json.loads((tmp_path / "metrics" / "evaluation.json").read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert on_disk["languages"] == LANGS and on_disk["split"] == "test"
    assert set(on_disk["models"]) == {*CORE_MODELS, *STUDENTS, *ABLATIONS, "tfidf_lr_gold",
                                      "tfidf_lr_distilled"}
    assert on_disk["models"]["teacher"]["ja"]["accuracy"] == pytest.approx(0.86)  # read, not recomputed
    for peer in ("tfidf_lr_gold", "tfidf_lr_distilled"):
        metrics = json.loads((tmp_path / "metrics" / f"{peer}.json").read_text())
        assert set(metrics) == {*LANGS, "mean"} and metrics["en"]["n"] == 20
        assert set(metrics["en"]) == {"accuracy", "macro_f1", "n", "ece", "brier"}
        assert 0 <= metrics["en"]["ece"] <= 1 and 0 <= metrics["en"]["brier"] <= 2
    gold = on_disk["models"]["tfidf_lr_gold"]
    distilled = on_disk["models"]["tfidf_lr_distilled"]
    assert gold["mean"]["accuracy"] >= 0.9
    assert distilled["mean"]["accuracy"] <= 0.1
    # An ablation is evaluated where it was trained, and left out where it was not.
    (tmp_path / "metrics" / "student_hard.json").unlink()
    assert "student_hard" not in run_evaluate(tmp_path)["models"]


def test_a_peer_trained_on_one_class_predicts_it_for_every_text(capsys):
    """A teacher that labels everything NEG (as a few-step one in the workflow test does)."""
    train = (["good stuff", "bad stuff", "great"], ["NEG", "NEG", "NEG"])
    test = (["good", "bad", "awful", "fine"], ["POS", "NEG", "NEG", "POS"])
    scores = tfidf_lr.tfidf_lr_scores(train, test, seed=0, task=make_task("binary"))
    assert scores["accuracy"] == 0.5 and scores["n"] == 4
    assert "Every training text is labelled NEG" in capsys.readouterr().out


def test_evaluate_says_which_step_to_run(tmp_path):
    toy_project(tmp_path, ["en"])
    (tmp_path / "metrics" / "teacher.json").unlink()
    with pytest.raises(MissingInput, match="teacher.json: run teacher-train first"):
        run_evaluate(tmp_path, ["en"])
    code, output = invoke_script("evaluate", "en", "--metrics-dir", tmp_path / "metrics", "--splits-dir",
                                 tmp_path / "splits", "--students", "student_bow")
    assert code == 1 and "teacher-train" in output
    toy_project(tmp_path, ["en"])
    (tmp_path / "hard" / "en" / "train.spacy").unlink()
    with pytest.raises(MissingInput, match="run the teacher's labelling step first"):
        run_evaluate(tmp_path, ["en"])
    toy_project(tmp_path, ["en"])
    with pytest.raises(ValueError, match="baseline_bow.json has no scores for ja"):
        run_evaluate(tmp_path, ["en", "ja"])
    write_json(tmp_path / "metrics" / "student_hard.json", model_metrics(0.7, ["en"], n=19))
    with pytest.raises(ValueError, match="test sets of different sizes"):
        run_evaluate(tmp_path, ["en"])


# --- the benchmark step --------------------------------------------------------------------------


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
    speed = measure.measure_speeds({"model": nlp}, texts, [10] * 30, batch_size=8, repeats=3, warmup=5)["model"]
    assert len(speed["seconds_per_pass"]) == 3
    seconds = sorted(speed["seconds_per_pass"])[1]
    assert speed["words_per_second"] == pytest.approx(300 / seconds)
    assert speed["docs_per_second"] == pytest.approx(30 / seconds)
    assert 0 < speed["cpu_per_wall"] < 4
    low, high = speed["batch_words_per_second_ci95"]
    assert 0 < low <= high
    timed = measure.measure_speeds({"model": nlp}, texts, [10] * 30, batch_size=8, repeats=2, warmup=0,
                                     min_seconds=0.3)["model"]
    assert sum(timed["seconds_per_pass"]) >= 0.3 and len(timed["seconds_per_pass"]) > 2
    with pytest.raises(ValueError, match="a word count per text"):
        measure.measure_speeds({"model": nlp}, texts, [10], batch_size=8, repeats=1, warmup=0)


def test_pipelines_timed_together_take_turns_until_each_has_timed_enough():
    """A pass each in turn, so that drift in the machine's speed is the same for both."""
    calls = []

    class Recorded:
        def __init__(self, name, nlp):
            self.name, self.nlp = name, nlp

        def pipe(self, texts, batch_size):
            calls.append(self.name)
            return self.nlp.pipe(texts, batch_size=batch_size)

    texts = [doc.text for doc in toy_docs(30)]
    nlps = {"student": Recorded("student", tiny_pipeline("en")), "tokenizer": Recorded("tokenizer", spacy.blank("en"))}
    speeds = measure.measure_speeds(nlps, texts, [10] * 30, batch_size=8, repeats=2, warmup=5, min_seconds=0.05)
    passes = {name: speed["seconds_per_pass"] for name, speed in speeds.items()}
    assert len(passes["student"]) == len(passes["tokenizer"]) >= 2
    assert min(sum(seconds) for seconds in passes.values()) >= 0.05
    assert calls == ["student", "tokenizer"] * (len(passes["student"]) + 1)  # warm-up passes first


def test_benchmark_measures_each_model_in_a_process_of_its_own(tmp_path):
    """A multilingual "teacher" (one process for both languages), per-language students with
    the textcat_distill factory (its code imported in the child) and the students' bare
    tokenizer: their pipelines without components, which load without that code."""
    from review_distill import textcat_distill  # noqa: F401  (registers the factory)

    languages = ["en", "de"]
    tiny_pipeline("xx").to_disk(tmp_path / "teacher")
    for lang in languages:
        (tmp_path / "student").mkdir(exist_ok=True)
        tiny_pipeline(lang, "textcat_distill").to_disk(tmp_path / "student" / lang)
    specs = [
        ModelSpec("teacher", {lang: tmp_path / "teacher" for lang in languages}, True, None, 4, 1, n_docs=5),
        ModelSpec("student_bow", {lang: tmp_path / "student" / lang for lang in languages}, False,
                  ROOT / "review_distill" / "textcat_distill.py", 8, 2),
        ModelSpec("tokenizer", {lang: tmp_path / "student" / lang for lang in languages}, False,
                  ROOT / "review_distill" / "textcat_distill.py", 8, 2, tokenizer_only=True, timed_with="student_bow"),
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
    assert teacher["n_docs"] == {"en": 5, "de": 5} and student["n_docs"] == {"en": 12, "de": 12}
    teacher_words = sum(len(doc) for doc in spacy.blank("en").pipe(texts["en"][:5]))
    for model, mean_words in ((teacher, teacher_words / 5), (student, words / 12)):
        assert all(model[key][lang] > 0 for key in ("words_per_second", "docs_per_second") for lang in languages)
        assert model["words_per_second"]["en"] / model["docs_per_second"]["en"] == pytest.approx(mean_words)
    assert len(student["timing_alone"]["en"]["seconds_per_pass"]) == 2
    assert student["batch_size"] == 8
    tokenizer = result["models"]["tokenizer"]
    assert tokenizer["size_bytes"] == {"en": None, "de": None}
    assert all(tokenizer["words_per_second"][lang] > 0 for lang in languages)
    # The student's words/s are those of its turns with the tokenizer, in the tokenizer's process.
    assert tokenizer["timed_with"] == "student_bow" and "timed_with" not in student
    assert student["passes"] == tokenizer["passes"] == {"en": 2, "de": 2}
    assert student["timing"]["de"] != student["timing_alone"]["de"]
    wrong_order = [specs[2], specs[1]]
    with pytest.raises(ValueError, match="timed with a per-language model benchmarked before it"):
        benchmark.benchmark_models(wrong_order, texts, warmup=0)
    without_code = ModelSpec("student_bow", specs[1].paths, False, None, 8, 1)
    with pytest.raises(ProjectError, match="textcat_distill"):  # the whole pipeline needs the component's code
        benchmark.benchmark_models([without_code], texts, warmup=0)


def test_speed_ratios_and_targets():
    models = {"teacher": {"words_per_second": {"en": 1000.0, "ja": 1000.0}},
              "tokenizer": {"words_per_second": {"en": 300000.0, "ja": 200000.0}},
              "student_bow": {"words_per_second": {"en": 99000.0, "ja": 150000.0}}}
    ratios = speed_target.speed_ratios(models, "student_bow", ["en", "ja"])
    assert ratios == {"vs_teacher": {"en": 99.0, "ja": 150.0}, "vs_tokenizer": {"en": 0.33, "ja": 0.75}}
    assert speed_target.missed_targets(ratios) == ["en: 99x the teacher's words/s, below the target of 100x"]
    assert speed_target.speed_ratios(models, "student_hard", ["en"]) == {}


def test_benchmark_says_what_is_missing(tmp_path):
    spec = ModelSpec("student_hard", {"en": tmp_path / "student_hard" / "en" / "model-best"})
    with pytest.raises(MissingInput, match=re.escape("Missing the student_hard model for en")):
        benchmark.benchmark_models([spec], {"en": ["a text"]})
    code, output = invoke_script("benchmark", "run", "en", "--students", "baseline_bow")
    assert code == 1 and "--students must name one or more students" in output
    code, output = invoke_script("benchmark", "run", "en", "--splits-dir", tmp_path / "splits",
                                 "--training-dir", tmp_path, "--students", "student_bow")
    assert code == 1
    assert "test.spacy: run `spacy project run preprocess` first" in output


def test_zero_label_languages_get_a_section_of_their_own_beside_a_reference_run():
    from review_distill.models import STUDENT
    from review_distill.report import zero_label_lines
    from review_distill.summary import zero_label_summary

    scores = {"accuracy": 0.8, "macro_f1": 0.79, "n": 1000, "zero_label": True}
    zero_label = {"languages": ["zh"], "no_test_set": ["nl"],
                  "models": {name: {"zh": dict(scores, accuracy=value)} for name, value in
                             (("teacher", 0.81), ("student_bow", 0.78), ("tfidf_lr_distilled", 0.76))}}
    reference = {"student_bow": {"zh": {"accuracy": 0.79, "macro_f1": 0.79, "n": 1000}},
                 "baseline_bow": {"zh": {"accuracy": 0.72, "macro_f1": 0.71, "n": 1000}}}
    dev = {"nl": {"accuracy": 0.9, "labels": "teacher-labelled dev"}}
    zero = zero_label_summary(zero_label, "student_bow", reference, dev)
    assert zero["accuracy"][STUDENT] == {"zh": 0.78} and zero["reference"]["baseline_bow"]["accuracy"] == {"zh": 0.72}
    assert zero["teacher_labelled_dev"] == {"nl": 0.9}
    text = "\n".join(zero_label_lines({"zero_label": zero, "default_student": "student_bow"}))
    assert "| zh (zero-label) | 0.810 | 0.780 | 0.760 | 0.790 | 0.720 | -0.010 |" in text
    assert "nl (zero-label) has no gold-labelled test reviews: the student agrees with the teacher on 90.0%" in text
    assert "reference_metrics" in text and zero_label_lines({"default_student": "student_bow"}) == []
    with pytest.raises(ValueError, match="reference run's student_bow was scored on 2000 zh test reviews, this run on 1000"):
        zero_label_summary(zero_label, "student_bow", {"student_bow": {"zh": dict(scores, zero_label=False, n=2000)}}, {})
    with pytest.raises(ValueError, match="reference run's student_bow has no scores for zh trained on its gold labels"):
        zero_label_summary(zero_label, "student_bow", {"student_bow": {"zh": scores}}, {})


# --- tasks of more than two labels ---------------------------------------------------------------

STARS_LABELS = ("1", "2", "3", "4", "5")


def task_metrics(accuracy, labels, ordered=True, stars=False, languages=LANGS, n=25):
    """model_metrics with the scores of a task of more than two labels: a diagonal-heavy confusion matrix."""
    metrics = model_metrics(accuracy, languages, n)
    for lang in languages:
        k = len(labels)
        metrics[lang]["confusion"] = [[n // k - 1 if i == j else (1 if j == (i + 1) % k else 0) for j in range(k)]
                                      for i in range(k)]
        if ordered:
            metrics[lang].update(mae=0.4, median_mae=0.38, within_one=0.9)
        if stars:
            metrics[lang]["binary_accuracy"] = 0.93
    return metrics


def task_evaluation(task):
    stars = task.name == "stars"
    models = {m: task_metrics(a, task.labels, task.ordered, stars) for m, a in ACCURACY.items()}
    return {"split": "test", "languages": LANGS, "models": models,
            "task": {"name": task.name, "labels": list(task.labels), "scale": list(task.scale)}}


def toy_out_of_domain():
    """An out_of_domain.json: en movie sentences scored, zh left out."""
    accuracy = {"teacher": 0.78, "baseline_bow": 0.61, "student_bow": 0.66, "tfidf_lr_gold": 0.6, "tfidf_lr_distilled": 0.64}
    return {"sets": {"en_movie": {"lang": "en", "domain": "movie sentences", "source": "UCI", "licence": "CC BY 4.0",
                                  "url": "http://x/y.tgz", "n": 996}},
            "left_out": {"zh_hotel_reviews": "this run has no zh"}, "models": list(accuracy),
            "scores": {"en_movie": {model: {"accuracy": value, "n": 996} for model, value in accuracy.items()}}}


def test_out_of_domain_accuracy_stands_beside_the_in_domain_one():
    summary = summaries.build_summary(toy_evaluation(), toy_benchmark(), "student_bow", out_of_domain=toy_out_of_domain())
    found = summary["out_of_domain"]["sets"]["en_movie"]
    assert found["accuracy"]["student"] == 0.66 and found["in_domain"]["student"] == ACCURACY["student_bow"]
    text = report.render_report(summary)
    assert ("Out of domain it scores 0.660 against the teacher's 0.780 (mean balanced accuracy on 1 set of opinion "
            "texts from outside product reviews, section Out of domain).") in text
    assert "### en_movie: movie sentences (en, 996 texts)" in text and "From UCI. Licence: CC BY 4.0." in text
    assert "| student BOW (default) (`student_bow`) | 0.795 | 0.660 | -0.135 |" in text
    assert "| transformer teacher (`teacher`) | 0.850 | 0.780 | -0.070 |" in text
    assert "- `zh_hotel_reviews` left out: this run has no zh." in text
    nothing = {"sets": {}, "left_out": {}, "models": [], "scores": {}}
    text = report.render_report(summaries.build_summary(toy_evaluation(), toy_benchmark(), "student_bow",
                                                        out_of_domain=nothing))
    assert "No set was named (var `out_of_domain_sets`)." in text and "Out of domain it scores" not in text
    assert "## Out of domain" not in report.render_report(summaries.build_summary(toy_evaluation(), toy_benchmark(),
                                                                                  "student_bow"))


def test_binary_summary_and_report_name_no_task(tmp_path):
    summary = summaries.build_summary(toy_evaluation(), toy_benchmark(), "student_bow")
    assert not {"task", "mae", "within_one", "binary_accuracy", "confusion", "mean_mae"} & set(summary)
    labelling = {"en": {"precision": "bf16", "n_texts": 10, "fp32_check": {"n": 5, "argmax_agreement": 1.0,
                                                                           "mean_abs_diff_pos": 0.001}}}
    text = report.render_report({**summary, "labelling": labelling})
    assert r"| mean \|Δp(POS)\| |" in text and "absolute difference in p(POS)" in text
    assert "Confusion" not in text and "mean absolute error" not in text


def test_a_language_labelled_in_fp32_after_its_int8_check_names_the_precision_it_was_checked_at():
    summary = summaries.build_summary(toy_evaluation(), toy_benchmark(), "student_bow")
    check = {"precision": "int8", "n": 500, "argmax_agreement": 0.99, "mean_abs_diff_pos": 0.01}
    labelling = {"en": {"precision": "fp32", "n_texts": 10, "fp32_check": check},
                 "de": {"precision": "int8", "n_texts": 10, "fp32_check": {**check, "argmax_agreement": 0.998}}}
    text = report.render_report({**summary, "labelling": labelling})
    assert "| en | fp32 | 10 | (earlier run) | 99.0% of 500 (int8) |" in text
    assert "| de | int8 | 10 | (earlier run) | 99.8% of 500 |" in text


@pytest.mark.parametrize("task_name", ["stars", "three_way", "categories"])
def test_tasks_of_more_labels_add_their_scores_and_confusion_matrices(tmp_path, task_name):
    from review_distill.tasks import make_task

    task = make_task(task_name, ["billing", "delivery", "refund"])
    evaluation = task_evaluation(task)
    write_json(tmp_path / "dev" / "student_bow.json", model_metrics(0.79))
    labelling = {lang: {"precision": "bf16", "n_texts": 100, "texts_per_s": 10.0,
                        "fp32_check": {"n": 50, "argmax_agreement": 0.98, "mean_abs_diff_pos": 0.004}} for lang in LANGS}
    args = [str(write_json(tmp_path / "evaluation.json", evaluation)),
            str(write_json(tmp_path / "benchmark.json", toy_benchmark())),
            "--summary", str(tmp_path / "summary.json"), "--output-dir", str(tmp_path / "reports"),
            "--students", "student_bow", "--dev-metrics-dir", str(tmp_path / "dev"),
            "--labelling", str(write_json(tmp_path / "labelling.json", labelling))]
    code, output = invoke_script("report", *args)
    assert code == 0, output
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["task"] == evaluation["task"]
    assert summary["confusion"]["student"]["ja"] == evaluation["models"]["student_bow"]["ja"]["confusion"]
    assert set(summary["confusion"]) == {*ACCURACY, "student"}
    text = (tmp_path / "reports" / "report.md").read_text()
    assert r"| mean \|Δp\| |" in text and "Δp(POS)" not in text
    for lang in LANGS:
        assert f"(confusion_{lang}.png)" in text
        png = (tmp_path / "reports" / f"confusion_{lang}.png").read_bytes()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
    if task.ordered:
        assert summary["mae"]["teacher"] == {"en": 0.4, "ja": 0.4} and summary["mean_within_one"]["student"] == 0.9
        assert "## Test mean absolute error" in text and "## Test share within one step" in text
        assert f"on the scale {' < '.join(task.scale)}" in text
        assert "| transformer teacher (`teacher`) | 0.400 | 0.400 | **0.400** |" in text
    else:
        assert "mae" not in summary and "mean absolute error" not in text
    if task.name == "stars":
        assert summary["mean_binary_accuracy"]["tfidf_lr_gold"] == 0.93
        assert "## Test accuracy, stars collapsed to binary" in text
    else:
        assert "binary_accuracy" not in summary and "collapsed to binary" not in text


def test_confusion_picture_shows_each_models_counts(tmp_path):
    from review_distill.tasks import make_task

    task = make_task("stars")
    summary = summaries.build_summary(task_evaluation(task), toy_benchmark(), "student_bow")
    plot.plot_confusion(summary, "en", tmp_path / "confusion_en.png")
    import matplotlib.image

    image = matplotlib.image.imread(tmp_path / "confusion_en.png")
    assert image.shape[1] > image.shape[0]  # two matrices side by side


def three_way_docs(n, offset=0, flip=False):
    """Separable three-way reviews: good, middling or bad words (flip: POS and NEG swapped)."""
    nlp = spacy.blank("xx")
    middling = ["okay", "average", "fine", "decent", "alright", "so-so"]
    docs = []
    for i in range(n):
        label = ("NEG", "NEU", "POS")[i % 3]
        words = {"POS": GOOD, "NEG": BAD, "NEU": middling}[label]
        doc = nlp.make_doc(f"the {THINGS[(i + offset) % 7]} is {words[(i // 3 + offset) % 6]} , "
                           f"{words[(i // 3 + offset + 1) % 6]} really")
        shown = {"POS": "NEG", "NEG": "POS"}.get(label, label) if flip else label
        doc.cats = {lab: float(lab == shown) for lab in ("NEG", "NEU", "POS")}
        docs.append(doc)
    return docs


def test_evaluate_a_three_way_task_with_multinomial_peers(tmp_path, capsys):
    from review_distill.tasks import make_task

    task = make_task("three_way")
    write_task(tmp_path / "splits" / "task.json", task)
    for lang in LANGS:
        write_docbin(tmp_path / "splits" / lang / "train.spacy", three_way_docs(60))
        write_docbin(tmp_path / "splits" / lang / "test.spacy", three_way_docs(30, offset=3))
        write_docbin(tmp_path / "hard" / lang / "train.spacy", three_way_docs(60, offset=1, flip=True))
    for name in (*CORE_MODELS, *STUDENTS):
        write_json(tmp_path / "metrics" / f"{name}.json", task_metrics(ACCURACY[name], task.labels, n=30))
    result = run_evaluate(tmp_path)
    assert result["task"] == {"name": "three_way", "labels": ["NEG", "NEU", "POS"], "scale": ["NEG", "NEU", "POS"]}
    evaluation.print_evaluation(result)
    assert "test MAE (three_way)" in capsys.readouterr().out
    gold = json.loads((tmp_path / "metrics" / "tfidf_lr_gold.json").read_text())
    assert gold["en"]["accuracy"] >= 0.9 and gold["en"]["mae"] <= 0.1
    assert sum(map(sum, gold["en"]["confusion"])) == 30 and len(gold["en"]["confusion"]) == 3
    assert set(gold["mean"]) == {"accuracy", "macro_f1", "ece", "brier", "mae", "median_mae", "within_one"}
    distilled = json.loads((tmp_path / "metrics" / "tfidf_lr_distilled.json").read_text())
    # Taught POS and NEG swapped: NEU right, POS and NEG two steps off.
    assert distilled["en"]["confusion"][1][1] >= 9 and distilled["en"]["mae"] >= 1.0
    assert distilled["en"]["confusion"][0][2] >= 9
    # A spaCy model's metrics without the task's scores are refused, naming the step to rerun.
    write_json(tmp_path / "metrics" / "teacher.json", model_metrics(0.8, n=30))
    with pytest.raises(ValueError, match="teacher.json: en has no confusion, mae, median_mae, within_one, scores of the task"):
        run_evaluate(tmp_path)


def test_a_label_no_training_text_has_gets_probability_zero(capsys):
    from review_distill.tasks import make_task

    task = make_task("stars")
    train = (["awful", "bad", "great", "superb", "awful thing", "great thing"], ["1", "1", "5", "5", "1", "5"])
    test = (["awful", "great", "fine"], ["1", "5", "3"])
    scores = tfidf_lr.tfidf_lr_scores(train, test, seed=0, task=task)
    assert "No training text is labelled 2, 3, 4" in capsys.readouterr().out
    assert sum(map(sum, scores["confusion"])) == 3 and scores["confusion"][2][1:4] == [0, 0, 0]
    assert 0 <= scores["brier"] <= 2
    with pytest.raises(ValueError, match=r"training labels \['POS'\] are not labels of the task stars"):
        tfidf_lr.tfidf_lr_scores((["a", "b"], ["POS", "1"]), test, seed=0, task=task)
