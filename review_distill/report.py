"""The `report` step: metrics/summary.json, reports/report.md and reports/accuracy_vs_speed.png,
built from metrics/evaluation.json and metrics/benchmark.json; nothing in them is typed in.

It also chooses the default student (`choose_student`): the best on mean dev accuracy of those
at 100x the teacher's words/s or more. The fields of summary.json: docs/method.md, "Reading the report"."""
import json
import statistics
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import typer
from wasabi import msg

from .benchmark import TEACHER, TEACHER_TARGET, TOKENIZER, WORD_TOKENIZER, speed_ratios
from .files import atomic_path

STUDENT = "student"
# Table order; any other model in the metrics follows these.
MODEL_ORDER = ("baseline_bow", "baseline_ensemble", TEACHER, STUDENT, "student_bow", "student_dan",
               "student_ensemble", "student_hard", "tfidf_lr_gold", "tfidf_lr_distilled")
REQUIRED_MODELS = ("baseline_bow", TEACHER, "tfidf_lr_gold", "tfidf_lr_distilled")
AUTO = "auto"
NAMES = {
    "baseline_bow": "baseline BOW",
    "baseline_ensemble": "baseline ensemble",
    TEACHER: "transformer teacher",
    "student_bow": "student BOW",
    "student_dan": "student BOW + DAN",
    "student_ensemble": "student ensemble",
    "student_hard": "student, hard labels",
    "tfidf_lr_gold": "TF-IDF + LR, gold labels",
    "tfidf_lr_distilled": "TF-IDF + LR, teacher labels",
    TOKENIZER: "bare tokenizer of the BOW students",
    WORD_TOKENIZER: "word tokenizer of the language",
}
PLOT_NAME = "accuracy_vs_speed.png"


def name_of(model: str, default_student: Optional[str] = None) -> str:
    name = NAMES.get(model, model)
    return f"{name} (default)" if model == default_student else name


def _mean(values) -> float:
    return statistics.mean(values.values()) if isinstance(values, dict) else values


def choose_student(student: str, candidates: Sequence[str], dev_metrics: Dict[str, Dict], bench: Dict) -> Tuple[str, Dict]:
    """The default student: `student` if it names one, else (`auto`) the candidate with the best mean dev
    accuracy among those at TEACHER_TARGET times the teacher's words/s or more in every language; and
    each candidate's figures."""
    languages = bench["languages"]
    selection = {}
    for name in candidates:
        if name not in dev_metrics:
            raise ValueError(f"no dev scores for {name}: rerun the step that trains it")
        if name not in bench["models"]:
            raise ValueError(f"the benchmark has no figures for {name}: rerun `spacy project run benchmark`")
        slowest = min(speed_ratios(bench["models"], name, languages)["vs_teacher"].values())
        selection[name] = {"mean_dev_accuracy": statistics.mean(dev_metrics[name][lang]["accuracy"] for lang in languages),
                           "slowest_vs_teacher_words_per_second": slowest, "fast_enough": slowest >= TEACHER_TARGET}
    if student != AUTO:
        return student, selection
    fast = [name for name in candidates if selection[name]["fast_enough"]]
    if not fast:
        slowest = ", ".join(f"{name} {figures['slowest_vs_teacher_words_per_second']:.0f}x"
                            for name, figures in selection.items())
        raise ValueError(f"no student runs at {TEACHER_TARGET:g}x the teacher's words/s in every language "
                         f"(slowest language: {slowest}): name one with --vars.student")
    return max(fast, key=lambda name: selection[name]["mean_dev_accuracy"]), selection


def check_inputs(evaluation: Dict, bench: Dict, default_student: str) -> None:
    """Raise ValueError, with the step to rerun, where evaluation.json or benchmark.json lack a model
    or a language the summary needs."""
    absent = [lang for lang in evaluation["languages"] if lang not in bench["languages"]]
    if absent:
        raise ValueError(f"the benchmark has no figures for {', '.join(absent)}: rerun `spacy project run benchmark`")
    for model in (*REQUIRED_MODELS, default_student):
        if model not in evaluation["models"]:
            raise ValueError(f"the evaluation has no scores for {model}: rerun `spacy project run evaluate`")
    for model in (TEACHER, default_student, TOKENIZER, WORD_TOKENIZER):
        if model not in bench["models"]:
            raise ValueError(f"the benchmark has no figures for {model}: rerun `spacy project run benchmark`")


def speed_summary(benched: Dict, speed_models: List[str], languages: List[str], default_student: str) -> Dict:
    """The summary's speed, size, load time and memory figures, and the default student's ratios to
    the teacher and the tokenizer."""
    summary: Dict = {}
    for key in ("words_per_second", "docs_per_second"):
        summary[key] = {m: {lang: benched[m][key][lang] for lang in languages} for m in speed_models}
    summary["mean_words_per_second"] = {m: _mean(summary["words_per_second"][m]) for m in speed_models}
    for key in ("size_bytes", "load_seconds", "peak_rss_bytes"):
        summary[key] = {m: _per_language(benched[m][key], languages) for m in speed_models}
    summary["cpu_per_wall"] = {m: _per_language(benched[m]["cpu_per_wall"], languages) for m in speed_models}
    for tokenizer in (TOKENIZER, WORD_TOKENIZER):
        del summary["size_bytes"][tokenizer]  # nothing on disk
    ratios = speed_ratios(benched, default_student, languages)
    student_size, teacher_size = summary["size_bytes"][STUDENT], summary["size_bytes"][TEACHER]
    summary["ratios"] = {
        "student_vs_teacher_words_per_second": ratios["vs_teacher"],
        "student_vs_tokenizer_words_per_second": ratios["vs_tokenizer"],
        "tokenizer_vs_teacher_words_per_second": {
            lang: benched[TOKENIZER]["words_per_second"][lang] / benched[TEACHER]["words_per_second"][lang]
            for lang in languages
        },
        "teacher_vs_student_size": {lang: _at(teacher_size, lang) / _at(student_size, lang) for lang in languages},
    }
    summary["targets"] = {"student_vs_teacher_words_per_second": TEACHER_TARGET}
    summary["targets_met"] = {
        key: {lang: ratio >= summary["targets"][key] for lang, ratio in summary["ratios"][key].items()}
        for key in summary["targets"]
    }
    return summary


def benchmark_provenance(bench: Dict, benched: Dict, speed_models: List[str]) -> Dict:
    """How the benchmark measured: date, machine, texts, batch sizes, passes."""
    provenance = {
        key: bench.get(key)
        for key in ("date", "machine", "n_docs", "n_words", "words", "warmup_docs", "min_seconds", "processes")
    }
    measured = [m for m in speed_models if m != STUDENT]
    provenance["teacher_torch_threads"] = benched[TEACHER].get("torch_threads")
    for key in ("batch_size", "repeats", "passes"):
        provenance[key] = {m: benched[m][key] for m in measured}
    provenance["timed_in_turns"] = [[benched[m]["timed_with"], m] for m in measured if benched[m].get("timed_with")]
    return provenance


def build_summary(evaluation: Dict, bench: Dict, default_student: str, selection: Optional[Dict] = None,
                  labelling: Optional[Dict] = None, reference: Optional[Dict[str, Dict]] = None,
                  dev_scores: Optional[Dict[str, Dict]] = None) -> Dict:
    """summary.json (its fields: docs/method.md, "Reading the report") from evaluation.json and benchmark.json."""
    check_inputs(evaluation, bench, default_student)
    languages = list(evaluation["languages"])
    scores = {**evaluation["models"], STUDENT: evaluation["models"][default_student]}
    benched = {**bench["models"], STUDENT: bench["models"][default_student]}
    order = [m for m in MODEL_ORDER if m in scores] + sorted(m for m in scores if m not in MODEL_ORDER)
    summary: Dict = {"languages": languages, "default_student": default_student, "models": order}
    summary["selection"] = selection or {}
    for score in ("accuracy", "macro_f1", "ece", "brier"):
        summary[score] = {m: {lang: scores[m][lang][score] for lang in languages} for m in order
                          if all(score in scores[m][lang] for lang in languages)}
        summary[f"mean_{score}"] = {m: statistics.mean(values.values()) for m, values in summary[score].items()}
    summary["labelling"] = labelling or {}
    speed_models = [m for m in order if m in benched] + [TOKENIZER, WORD_TOKENIZER]
    summary.update(speed_summary(benched, speed_models, languages, default_student))
    summary["benchmark"] = benchmark_provenance(bench, benched, speed_models)
    summary["test_docs"] = {lang: scores[default_student][lang]["n"] for lang in languages}
    if "zero_label" in evaluation:
        summary["zero_label"] = zero_label_summary(evaluation["zero_label"], default_student, reference or {},
                                                   dev_scores or {})
    return summary


def zero_label_summary(zero_label: Dict, default_student: str, reference: Dict[str, Dict],
                       dev_scores: Dict[str, Dict]) -> Dict:
    """summary.json's `zero_label` (see the module doc) from evaluation.json's, the reference run's test scores
    ({model: metrics}) and the default student's dev scores."""
    languages, models = zero_label["languages"], zero_label["models"]
    if default_student not in models:
        raise ValueError(f"the evaluation has no zero-label scores for {default_student}: rerun "
                         "`spacy project run evaluate`")
    models = {STUDENT: models[default_student], **models}
    result = {"languages": languages, "no_test_set": zero_label["no_test_set"]}
    for score in ("accuracy", "macro_f1"):
        result[score] = {m: {lang: models[m][lang][score] for lang in languages} for m in models}
    result["reference"] = {}
    for name, metrics in reference.items():
        for lang in languages:
            entry = metrics.get(lang)
            if entry is None or entry.get("zero_label"):
                raise ValueError(f"the reference run's {name} has no scores for {lang} trained on its gold labels")
            if entry["n"] != models[STUDENT][lang]["n"]:
                raise ValueError(f"the reference run's {name} was scored on {entry['n']} {lang} test reviews, this run "
                                 f"on {models[STUDENT][lang]['n']}: the runs need the same data, n_test and seed")
        result["reference"][name] = {score: {lang: metrics[lang][score] for lang in languages}
                                     for score in ("accuracy", "macro_f1")}
    unlabeled = languages + zero_label["no_test_set"]
    result["teacher_labelled_dev"] = {lang: dev_scores[lang]["accuracy"] for lang in unlabeled if lang in dev_scores}
    return result


def _per_language(value, languages: Sequence[str]):
    """A multilingual model's single figure, or a per-language model's mapping (to `languages`)."""
    return {lang: value[lang] for lang in languages} if isinstance(value, dict) else value


def _at(value, lang: str) -> float:
    return value[lang] if isinstance(value, dict) else value


# --- report.md ---------------------------------------------------------------------------------


def _table(header: List[str], rows: List[List[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _bytes(value: float) -> str:
    return f"{value / 1e9:.2f} GB" if value >= 1e9 else f"{value / 1e6:.1f} MB"


def _spread(value, fmt) -> str:
    """A figure; for a per-language mapping, its mean over the languages and the range, if any."""
    if not isinstance(value, dict):
        return fmt(value)
    low, high = fmt(min(value.values())), fmt(max(value.values()))
    return fmt(_mean(value)) if low == high else f"{fmt(_mean(value))} ({low} – {high})"


def _compact(value: float) -> str:
    """Words/s for a plot label: 1.2M, 416k, 850."""
    return f"{value / 1e6:.3g}M" if value >= 1e6 else f"{value / 1e3:.3g}k" if value >= 1e3 else f"{value:.0f}"


def _count_range(counts) -> str:
    """"7" or "5–300"."""
    low, high = min(counts), max(counts)
    return f"{low}" if low == high else f"{low}–{high}"


def _ratio(value: float, digits: int = 2) -> str:
    """A ratio for the tables: whole numbers from 10 up, else `digits` decimals."""
    return f"{value:,.0f}×" if value >= 10 else f"{value:.{digits}f}×"


def table_models(summary: Dict) -> List[str]:
    """The models of the tables: `student` is shown under its own name."""
    return [m for m in summary["models"] if m != STUDENT]


def accuracy_table(summary: Dict, score: str = "accuracy") -> str:
    languages, default = summary["languages"], summary["default_student"]
    rows = [
        [f"{name_of(m, default)} (`{m}`)", *(f"{summary[score][m][lang]:.3f}" for lang in languages),
         f"**{summary['mean_' + score][m]:.3f}**"]
        for m in table_models(summary)
    ]
    return _table(["model", *languages, "mean"], rows)


def speed_table(summary: Dict) -> str:
    languages, default = summary["languages"], summary["default_student"]
    wps, teacher = summary["words_per_second"], summary["mean_words_per_second"][TEACHER]
    batch = summary["benchmark"]["batch_size"]
    models = [m for m in table_models(summary) if m in wps] + [TOKENIZER, WORD_TOKENIZER]
    rows = [
        [f"{name_of(m, default)} (`{m}`)", str(batch[m]), *(f"{wps[m][lang]:,.0f}" for lang in languages),
         f"**{summary['mean_words_per_second'][m]:,.0f}**", _ratio(summary["mean_words_per_second"][m] / teacher)]
        for m in models
    ]
    return _table(["words/s", "batch", *languages, "mean", "× teacher"], rows)


def ratio_table(summary: Dict) -> str:
    languages, ratios, targets = summary["languages"], summary["ratios"], summary["targets"]
    rows = []
    for key, label in (("student_vs_teacher_words_per_second", "student / teacher, words/s"),
                       ("student_vs_tokenizer_words_per_second", "student / bare tokenizer, words/s"),
                       ("teacher_vs_student_size", "teacher / student, size on disk"),
                       ("tokenizer_vs_teacher_words_per_second", "bare tokenizer / teacher, words/s (the ceiling)")):
        target = f"≥ {_ratio(targets[key])}" if key in targets else ""
        rows.append([label, *(_ratio(ratios[key][lang]) for lang in languages),
                     _ratio(statistics.mean(ratios[key].values())), target])
    return _table(["ratio", *languages, "mean", "target"], rows)


def resources_table(summary: Dict) -> str:
    default = summary["default_student"]
    models = [m for m in table_models(summary) if m in summary["load_seconds"]] + [TOKENIZER, WORD_TOKENIZER]
    rows = [
        [f"{name_of(m, default)} (`{m}`)",
         _spread(summary["size_bytes"][m], _bytes) if m in summary["size_bytes"] else "–",
         _spread(summary["load_seconds"][m], lambda seconds: f"{seconds:.2f} s"),
         _spread(summary["peak_rss_bytes"][m], _bytes), f"{_mean(summary['cpu_per_wall'][m]):.2f}"]
        for m in models
    ]
    return _table(["model", "size on disk", "load time", "peak memory (RSS)", "cores busy"], rows)


def target_lines(summary: Dict) -> List[str]:
    missed = [
        f"{lang} ({key.replace('_', ' ')}: {_ratio(summary['ratios'][key][lang], digits=3)})"
        for key, met in summary["targets_met"].items()
        for lang, ok in met.items()
        if not ok
    ]
    if not missed:
        return [f"The default student meets the speed target (≥ {TEACHER_TARGET:g}× the teacher's words/s) "
                "in every language."]
    lines = [f"**Speed target missed** in: {'; '.join(missed)}."]
    tokenizer_vs_teacher = summary["ratios"]["tokenizer_vs_teacher_words_per_second"]
    out_of_reach = [f"{lang} {_ratio(ratio)}" for lang, ratio in tokenizer_vs_teacher.items() if ratio < TEACHER_TARGET]
    if out_of_reach:
        lines += ["", f"The bare tokenizer alone is below {TEACHER_TARGET:g}× the teacher's words/s in "
                      f"{', '.join(out_of_reach)}: no pipeline built on it can reach that target there."]
    return lines


def selection_table(summary: Dict) -> str:
    rows = [[f"{name_of(m, summary['default_student'])} (`{m}`)", f"{figures['mean_dev_accuracy']:.3f}",
             _ratio(figures["slowest_vs_teacher_words_per_second"]), "yes" if figures["fast_enough"] else "no"]
            for m, figures in summary["selection"].items()]
    return _table(["student", "mean dev accuracy", "slowest language, × teacher words/s",
                   f"≥ {TEACHER_TARGET:g}×"], rows)


def calibration_table(summary: Dict) -> str:
    languages, default = summary["languages"], summary["default_student"]
    rows = [[f"{name_of(m, default)} (`{m}`)", *(f"{summary['ece'][m][lang]:.3f}" for lang in languages),
             f"**{summary['mean_ece'][m]:.3f}**", f"{summary['mean_brier'][m]:.3f}"]
            for m in table_models(summary) if m in summary["ece"]]
    return _table(["ECE (10 bins)", *languages, "mean", "mean Brier"], rows)


def labelling_lines(summary: Dict) -> List[str]:
    labelling = summary["labelling"]
    if not labelling:
        return []
    rows = []
    for lang, figures in labelling.items():
        check = figures.get("fp32_check")
        rows.append([lang, figures["precision"], f"{figures['n_texts']:,}",
                     f"{figures['texts_per_s']:.1f}" if "texts_per_s" in figures else "(earlier run)",
                     f"{check['argmax_agreement']:.1%} of {check['n']}" if check else "–",
                     f"{check['mean_abs_diff_pos']:.2g}" if check else "–"])
    return ["## The teacher's labelling", "",
            "Texts the teacher labelled per language (gold train reviews, synthetic texts, pool reviews), how "
            "fast, and, in bf16, its agreement with the fp32 teacher on a sample (argmax, and the mean "
            "absolute difference in p(POS)).", "",
            _table(["language", "precision", "texts", "texts/s", "argmax agreement with fp32", "mean |Δp(POS)|"], rows),
            ""]


def zero_label_lines(summary: Dict) -> List[str]:
    """The section on the unlabeled languages, if any."""
    if "zero_label" not in summary:
        return []
    zero, default = summary["zero_label"], summary["default_student"]
    reference = zero["reference"]
    columns = [("teacher, zero-shot", zero["accuracy"][TEACHER]),
               (f"student, zero-label (`{default}`)", zero["accuracy"][STUDENT])]
    if "tfidf_lr_distilled" in zero["accuracy"]:
        columns.append(("TF-IDF + LR, teacher labels", zero["accuracy"]["tfidf_lr_distilled"]))
    for name, label in ((default, "student distilled with gold (reference run)"),
                        ("baseline_bow", "baseline BOW, gold (reference run)")):
        if name in reference:
            columns.append((label, reference[name]["accuracy"]))
    rows = [[f"{lang} (zero-label)", *(f"{values[lang]:.3f}" for _, values in columns)]
            + ([f"{zero['accuracy'][STUDENT][lang] - reference[default]['accuracy'][lang]:+.3f}"]
               if default in reference else [])
            for lang in zero["languages"]]
    header = ["test accuracy", *(label for label, _ in columns)] + (["zero-label − gold student"]
                                                                    if default in reference else [])
    lines = ["## Zero-label languages", "",
             "Languages whose gold labels nothing in this run trained on: the teacher learned from the other "
             "languages' gold reviews and labelled these languages' reviews, and their students learned from those "
             "labels alone, with a teacher-labelled dev set. Scored on the same gold test reviews as a run that "
             "trained on their labels" + (" (the reference run, `reference_metrics`)." if reference else
                                          "; set `reference_metrics` to such a run's metrics to compare."), ""]
    if zero["languages"]:
        lines += [_table(header, rows), ""]
    for lang in zero["no_test_set"]:
        dev = zero["teacher_labelled_dev"].get(lang)
        lines += [f"{lang} (zero-label) has no gold-labelled test reviews" + (
            f": the student agrees with the teacher on {dev:.1%} of its teacher-labelled dev reviews." if dev is not None
            else "."), ""]
    return lines


def intro_lines(summary: Dict, plot_name: str) -> List[str]:
    default, mean = summary["default_student"], summary["mean_accuracy"]
    speed = statistics.mean(summary["ratios"]["student_vs_teacher_words_per_second"].values())
    size = statistics.mean(summary["ratios"]["teacher_vs_student_size"].values())
    return [
        "# Accuracy, speed and size",
        "",
        f"Generated by `spacy project run report` from `metrics/evaluation.json` and `metrics/benchmark.json`. "
        f"The default student, the one `package` ships, is `{default}`: mean test accuracy "
        f"{mean[default]:.3f} against the teacher's {mean[TEACHER]:.3f} and the BOW baseline's "
        f"{mean['baseline_bow']:.3f}, at {_ratio(speed)} the teacher's words/s and 1/{size:,.0f} of its size.",
        "",
        f"![Mean test accuracy against words per second]({plot_name})",
        "",
    ]


def accuracy_lines(summary: Dict) -> List[str]:
    n_test = ", ".join(f"{lang} {summary['test_docs'][lang]:,}" for lang in summary["languages"])
    return [
        "## Test accuracy",
        "",
        f"Balanced test sets (reviews: {n_test}); the TF-IDF + logistic regression peers are trained by "
        "`evaluate` on the gold train set and on the teacher's labels of the students' training texts.",
        "",
        accuracy_table(summary),
        "",
        *zero_label_lines(summary),
        "## Test macro-F1",
        "",
        accuracy_table(summary, "macro_f1"),
        "",
        "## Calibration",
        "",
        "Expected calibration error on test (10 equal-width bins of the top label's probability; lower is "
        "better) and the Brier score (squared error of the probabilities, summed over the labels).",
        "",
        calibration_table(summary),
        "",
        "## Choosing the default student",
        "",
        "The default student is the candidate with the best mean dev accuracy of those at "
        f"{TEACHER_TARGET:g}× the teacher's words/s or more in every language (unless the var `student` names one).",
        "",
        selection_table(summary),
        "",
    ]


def speed_lines(summary: Dict) -> List[str]:
    return [
        "## Speed",
        "",
        "Words per second of `nlp.pipe` over the raw test texts (tokenization included), one process, "
        "after a warm-up pass; median of the timed passes. Words are the tokens of each language's word "
        "tokenizer (SudachiPy for ja, jieba for zh, spaCy's rule-based tokenizer for the others), the same "
        "count for every model. The bare tokenizer of the BOW students is their pipeline loaded without "
        "its components, the ceiling of their speed: the word tokenizer, except in the languages whose "
        "students split the text into characters.",
        "",
        speed_table(summary),
        "",
        f"### The default student (`{summary['default_student']}`) against the teacher and the tokenizer",
        "",
        ratio_table(summary),
        "",
        *target_lines(summary),
        "",
        "## Size, load time and memory",
        "",
        "Size: the files of the model directory. Load time: `spacy.load` wall time in a fresh process, "
        "after `import spacy`. Peak memory: that process's peak resident set, Python and spaCy included. "
        "The bare tokenizer's row is the floor of both: where spacy-transformers is installed, as it is "
        "here, the first load of any pipeline imports its registered functions (and torch). "
        "Cores busy: CPU time over wall time while timed. "
        "Per-language models: mean over the languages (range).",
        "",
        resources_table(summary),
        "",
    ]


def provenance_lines(summary: Dict) -> List[str]:
    bench = summary["benchmark"]
    machine = bench.get("machine") or {}
    n_docs = ", ".join(f"{lang} {bench['n_docs'][lang]:,} ({bench['n_words'][lang]:,} words)"
                       for lang in summary["languages"])
    batches = ", ".join(f"{m} {b}" for m, b in bench["batch_size"].items())
    repeats = ", ".join(f"{m} {r}" for m, r in bench["repeats"].items())
    passes = ", ".join(f"{m} {_count_range(per_lang.values())}" for m, per_lang in bench["passes"].items())
    return [
        "## How it was measured",
        "",
        f"- Date: {bench.get('date')}; machine: {machine.get('cpu', '?')}, {machine.get('cpu_count', '?')} cores, "
        f"{(machine.get('memory_bytes') or 0) / 2**30:.0f} GiB memory, {machine.get('platform', '?')}; "
        f"Python {machine.get('python', '?')}, spaCy {machine.get('spacy', '?')}.",
        f"- Benchmark texts per language: {n_docs}; warm-up {bench.get('warmup_docs')} texts; "
        f"{bench.get('processes', 1)} process.",
        f"- Batch sizes: {batches}. Timed passes per language: at least {repeats}, and more until "
        f"{bench.get('min_seconds'):g} s were timed; passes made: {passes}. Threads at their defaults "
        f"(the teacher's torch threads: {bench.get('teacher_torch_threads')}).",
        *(f"- `{first}` and `{second}` were timed in turns, a pass each, in one process, so that the "
          "machine's drift in speed from process to process and minute to minute is the same for both; "
          "every other model in a process of its own." for first, second in bench.get("timed_in_turns", [])),
        "",
    ]


def render_report(summary: Dict, plot_name: str = PLOT_NAME) -> str:
    """report.md: the tables of the summary, with what each one measures."""
    lines = [*intro_lines(summary, plot_name), *accuracy_lines(summary), *labelling_lines(summary),
             *speed_lines(summary), *provenance_lines(summary)]
    return "\n".join(lines)


# --- the plot ----------------------------------------------------------------------------------

# Where a marker's label may go, relative to the marker, in points: nearest first.
_AROUND = [(dx * r, dy * r * 0.8) for r in (7, 18, 30, 45, 60, 80)
           for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1))]
# Where a horizontal line's label may go, relative to its left end: just above or below the line first.
_ALONG = [(4, dy) for dy in (2, -2, 12, -12, 22, -22, 32, -32)]
_LABEL_BOX = {"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85}
STYLE = {
    TEACHER: ("#c0392b", "D"),
    "baseline_bow": ("#7f8c8d", "s"),
    "baseline_ensemble": ("#7f8c8d", "^"),
    "student_bow": ("#2471a3", "o"),
    "student_ensemble": ("#2471a3", "v"),
    "student_hard": ("#1e8449", "o"),
}


def _annotate(ax, text: str, xy, offset: Tuple[float, float], fontsize: float, color: str):
    dx, dy = offset
    ha = "left" if dx > 0 else "right" if dx < 0 else "center"
    va = "bottom" if dy > 0 else "top" if dy < 0 else "center"
    arrow = {"arrowstyle": "-", "color": "#888888", "lw": 0.7} if (dx * dx + dy * dy) ** 0.5 > 10 else None
    return ax.annotate(text, xy, xytext=offset, textcoords="offset points", ha=ha, va=va, fontsize=fontsize,
                       color=color, arrowprops=arrow, bbox=_LABEL_BOX, zorder=4)


def _text_box(annotation, renderer):
    """The display box of an annotation's text (its leader line left out), with a margin."""
    from matplotlib.text import Text

    annotation.update_positions(renderer)
    return Text.get_window_extent(annotation, renderer).expanded(1.06, 1.25)


def _place_label(ax, renderer, text: str, xy, obstacles: List, fontsize: float, color: str, candidates=_AROUND):
    """Annotate xy with text at the first candidate offset where it overlaps no obstacle and stays
    in the axes (with a leader line when it is not next to xy), else where it overlaps least; add
    its box to the obstacles and return the annotation."""
    best = None
    for offset in candidates:
        annotation = _annotate(ax, text, xy, offset, fontsize, color)
        box = _text_box(annotation, renderer)
        inside = ax.bbox.x0 <= box.x0 and box.x1 <= ax.bbox.x1 and ax.bbox.y0 <= box.y0 and box.y1 <= ax.bbox.y1
        overlaps = sum(box.overlaps(other) for other in obstacles)
        if inside and not overlaps:
            obstacles.append(box)
            return annotation
        if best is None or overlaps + (0 if inside else 100) < best[0]:
            best = (overlaps + (0 if inside else 100), offset)
        annotation.remove()
    annotation = _annotate(ax, text, xy, best[1], fontsize, color)
    obstacles.append(_text_box(annotation, renderer))
    return annotation


def plot_accuracy_vs_speed(summary: Dict, path: Path) -> List:
    """Mean test accuracy against mean words/s (log scale), one labelled marker per benchmarked
    model, the bare tokenizer's words/s as a dashed vertical line (the ceiling), the TF-IDF + LR
    peers (not benchmarked) as dotted horizontal lines. Returns the labels' annotations."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    wps = summary["mean_words_per_second"]
    points = [m for m in table_models(summary) if m in wps]
    peers = [m for m in table_models(summary) if m not in wps]
    fig, ax = plt.subplots(figsize=(9, 5.6), dpi=150)
    _draw_markers(ax, summary, points, peers)
    fig.tight_layout()
    fig.canvas.draw()
    labels = _label_markers(ax, fig.canvas.get_renderer(), summary, points, peers)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return labels


def _draw_markers(ax, summary: Dict, points: List[str], peers: List[str]) -> None:
    """The axes, the markers of the benchmarked models and the lines of the ceiling and the peers."""
    default = summary["default_student"]
    accuracy, wps = summary["mean_accuracy"], summary["mean_words_per_second"]
    ceiling = wps[TOKENIZER]
    xs = [wps[m] for m in points] + [ceiling]
    ys = [accuracy[m] for m in points + peers]
    ax.set_xscale("log")
    ax.set_xlim(min(xs) / 4, max(xs) * 4)
    span = max(max(ys) - min(ys), 0.04)
    ax.set_ylim(min(ys) - 0.3 * span, max(ys) + 0.3 * span)
    ax.grid(True, which="major", color="#dddddd", lw=0.6)
    ax.set_axisbelow(True)
    ax.axvline(ceiling, color="#555555", ls="--", lw=1)
    for m in peers:
        ax.axhline(accuracy[m], color="#8e44ad", ls=":", lw=1.2)
    for m in points:
        color, marker = STYLE.get(m, ("#34495e", "o"))
        size = 150 if m == default else 70
        ax.scatter(wps[m], accuracy[m], s=size, color=color, marker="*" if m == default else marker, zorder=3,
                   edgecolors="white", linewidths=0.6)
    ax.set_xlabel("words per second (log scale; nlp.pipe, 1 process, mean over languages)", fontsize=11)
    ax.set_ylabel("mean test accuracy", fontsize=11)
    ax.set_title(f"Accuracy against speed, {len(summary['languages'])} languages "
                 f"({', '.join(summary['languages'])})", fontsize=12)
    ax.tick_params(labelsize=10)


def _label_markers(ax, renderer, summary: Dict, points: List[str], peers: List[str]) -> List:
    """A label per marker and line, each placed where it overlaps nothing drawn before it."""
    from matplotlib.transforms import Bbox

    default = summary["default_student"]
    accuracy, wps = summary["mean_accuracy"], summary["mean_words_per_second"]
    ceiling = wps[TOKENIZER]
    to_display = ax.transData.transform
    obstacles = []
    for m in points:  # the markers themselves
        x, y = to_display((wps[m], accuracy[m]))
        obstacles.append(Bbox.from_extents(x - 7, y - 7, x + 7, y + 7))
    labels = []
    # Fixed labels first: the ceiling line's and the peers' lines'.
    top = ax.get_ylim()[1]
    labels.append(_annotate(ax, f"bare tokenizer: {_compact(ceiling)} words/s", (ceiling, top), (-4, -4), 9, "#555555"))
    obstacles.append(_text_box(labels[-1], renderer))
    left = ax.get_xlim()[0]
    for m in sorted(peers, key=lambda m: -accuracy[m]):
        labels.append(_place_label(ax, renderer, f"{name_of(m)}: {accuracy[m]:.3f}", (left, accuracy[m]),
                                   obstacles, 9, "#8e44ad", _ALONG))
    for m in sorted(points, key=lambda m: -accuracy[m]):
        color = STYLE.get(m, ("#34495e", "o"))[0]
        labels.append(_place_label(ax, renderer, f"{name_of(m, default)}\n{accuracy[m]:.3f}, {_compact(wps[m])} words/s",
                                   (wps[m], accuracy[m]), obstacles, 9.5, color))
    return labels


def read_json(path: Path, step: str) -> Dict:
    if not Path(path).is_file():
        raise FileNotFoundError(f"Missing {path}: run `spacy project run {step}` first")
    return json.loads(Path(path).read_text(encoding="utf8"))


def write_report(evaluation_path: Path, benchmark_path: Path, student: str, summary_path: Path, output_dir: Path,
                 candidates: Sequence[str] = (), dev_metrics_dir: Optional[Path] = None,
                 labelling_path: Optional[Path] = None, reference_dir: Optional[Path] = None) -> Path:
    """Choose the default student (choose_student), build the summary, the report and the plot; return
    the report's path."""
    evaluation, bench = read_json(evaluation_path, "evaluate"), read_json(benchmark_path, "benchmark")
    dev_metrics = {name: read_json(Path(dev_metrics_dir) / f"{name}.json", f"the step that trains {name}")
                   for name in candidates} if dev_metrics_dir is not None else {}
    default_student, selection = choose_student(student, candidates, dev_metrics, bench)
    labelling = read_json(labelling_path, "label") if labelling_path is not None else None
    reference = None
    if "zero_label" in evaluation and reference_dir is not None:
        paths = {name: Path(reference_dir) / f"{name}.json" for name in (default_student, "baseline_bow")}
        absent = [str(path) for path in paths.values() if not path.is_file()]
        if absent:
            raise FileNotFoundError(f"Missing {', '.join(absent)}: reference_metrics must be the metrics directory of "
                                    "a run that trained these languages on their gold labels")
        reference = {name: json.loads(path.read_text(encoding="utf8")) for name, path in paths.items()}
    summary = build_summary(evaluation, bench, default_student, selection, labelling, reference,
                            dev_metrics.get(default_student))
    with atomic_path(summary_path) as tmp:
        tmp.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf8")
    plot_accuracy_vs_speed(summary, output_dir / PLOT_NAME)
    report_path = output_dir / "report.md"
    with atomic_path(report_path) as tmp:
        tmp.write_text(render_report(summary), encoding="utf8")
    return report_path


def main(
    evaluation_path: Path = typer.Argument(Path("metrics/evaluation.json")),
    benchmark_path: Path = typer.Argument(Path("metrics/benchmark.json")),
    student: str = typer.Option(AUTO, help="The default student (the one `package` ships), or auto: choose_student"),
    students: str = typer.Option(..., help="Space-separated candidates for the default student"),
    dev_metrics_dir: Path = typer.Option(Path("metrics/dev"), help="Holds the candidates' {student}.json dev scores"),
    labelling_path: Optional[Path] = typer.Option(None, "--labelling", help="The label step's report"),
    summary_path: Path = typer.Option(Path("metrics/summary.json"), "--summary"),
    output_dir: Path = typer.Option(Path("reports"), help="Where report.md and the plot go"),
    reference_metrics: str = typer.Option("", help="The metrics directory of a run that trained the unlabeled "
                                          "languages on their gold labels, to compare their students with"),
):
    try:
        report_path = write_report(evaluation_path, benchmark_path, student, summary_path, output_dir,
                                   students.split(), dev_metrics_dir, labelling_path,
                                   Path(reference_metrics) if reference_metrics else None)
    except (FileNotFoundError, ValueError) as err:
        msg.fail(str(err), exits=1)
    msg.good(f"Default student: {json.loads(summary_path.read_text())['default_student']}")
    msg.good(f"Summary in {summary_path}; plot in {output_dir / PLOT_NAME}")
    msg.good(f"Report: {report_path.resolve()}")
