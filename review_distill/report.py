"""The `report` step: metrics/summary.json (review_distill.summary), reports/report.md and
reports/accuracy_vs_speed.png (review_distill.plot), built from metrics/evaluation.json and
metrics/benchmark.json (and metrics/out_of_domain.json where given); nothing in them is typed in.
An ordered task of more than two labels adds the tables of its ORDINAL scores; any task of more
than two labels, the teacher's and the default student's confusion matrices per language
(reports/confusion_{lang}.png)."""
import json
import statistics
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from .errors import MissingInput
from .files import atomic_path, write_json
from .models import BASELINE, STUDENT, TEACHER, TFIDF_LR_DISTILLED, TOKENIZER, WORD_TOKENIZER, name_of
from .plot import plot_accuracy_vs_speed, plot_confusion
from .speed_target import TEACHER_TARGET
from .summary import build_summary, choose_student, mean_over_languages, table_models

PLOT_NAME = "accuracy_vs_speed.png"
# Each language's confusion matrices, for a task of more than two labels.
CONFUSION_NAME = "confusion_{lang}.png"
# What each ordered task's ORDINAL score tables say.
ORDINAL_SECTIONS = (
    ("mae", "Test mean absolute error",
     "The mean number of steps between the gold and the predicted label on the scale {scale} (lower is better)."),
    ("median_mae", "Test mean absolute error of the median label",
     "The same with each review given the median of the model's probabilities along the scale instead of the most "
     "probable label: the label whose expected error in steps is least."),
    ("within_one", "Test share within one step",
     "The share of test reviews whose predicted label is at most one step from the gold one."),
    ("binary_accuracy", "Test accuracy, stars collapsed to binary",
     "Accuracy with both the gold and the predicted stars collapsed to binary (1-2 stars NEG, 3-5 POS), "
     "comparable with a binary run's."),
)


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
    return fmt(mean_over_languages(value)) if low == high else f"{fmt(mean_over_languages(value))} ({low} – {high})"


def _count_range(counts) -> str:
    """"7" or "5–300"."""
    low, high = min(counts), max(counts)
    return f"{low}" if low == high else f"{low}–{high}"


def _ratio(value: float, digits: int = 2) -> str:
    """A ratio for the tables: whole numbers from 10 up, else `digits` decimals."""
    return f"{value:,.0f}×" if value >= 10 else f"{value:.{digits}f}×"


def accuracy_table(summary: Dict, score: str = "accuracy") -> str:
    languages, default = summary["languages"], summary["default_student"]
    rows = [
        [f"{name_of(m, default)} (`{m}`)", *(f"{summary[score][m][lang]:.3f}" for lang in languages),
         f"**{summary['mean_' + score][m]:.3f}**"]
        for m in table_models(summary) if m in summary[score]
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
         _spread(summary["peak_rss_bytes"][m], _bytes), f"{mean_over_languages(summary['cpu_per_wall'][m]):.2f}"]
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


def _checked_at(check: Dict, figures: Dict) -> str:
    """` (int8)` where a language was checked at another precision than the one it was labelled at."""
    checked = check.get("precision", figures["precision"])
    return f" ({checked})" if checked != figures["precision"] else ""


def labelling_lines(summary: Dict) -> List[str]:
    labelling = summary["labelling"]
    if not labelling:
        return []
    rows = []
    for lang, figures in labelling.items():
        check = figures.get("fp32_check")
        rows.append([lang, figures["precision"], f"{figures['n_texts']:,}",
                     f"{figures['texts_per_s']:.1f}" if "texts_per_s" in figures else "(earlier run)",
                     f"{check['argmax_agreement']:.1%} of {check['n']}{_checked_at(check, figures)}" if check else "–",
                     f"{check['mean_abs_diff_pos']:.2g}" if check else "–"])
    # A binary run's summary names no task; its difference is that in p(POS).
    # The bars of |Δp| are escaped: a bare | would end the table's cell.
    difference, column = ("the probabilities", r"mean \|Δp\|") if "task" in summary else ("p(POS)", r"mean \|Δp(POS)\|")
    return ["## The teacher's labelling", "",
            "Texts the teacher labelled per language (gold train reviews, synthetic texts, pool reviews), how "
            "fast, and, in bf16 or int8, its agreement with the fp32 teacher on a sample (argmax, and the mean "
            f"absolute difference in {difference}); a language labelled in fp32 because it agreed too little "
            "names the precision it was checked at.", "",
            _table(["language", "precision", "texts", "texts/s", "argmax agreement with fp32", column], rows),
            ""]


def zero_label_lines(summary: Dict) -> List[str]:
    """The section on the unlabeled languages, if any."""
    if "zero_label" not in summary:
        return []
    zero, default = summary["zero_label"], summary["default_student"]
    reference = zero["reference"]
    columns = [("teacher, zero-shot", zero["accuracy"][TEACHER]),
               (f"student, zero-label (`{default}`)", zero["accuracy"][STUDENT])]
    if TFIDF_LR_DISTILLED in zero["accuracy"]:
        columns.append(("TF-IDF + LR, teacher labels", zero["accuracy"][TFIDF_LR_DISTILLED]))
    for name, label in ((default, "student distilled with gold (reference run)"),
                        (BASELINE, "baseline BOW, gold (reference run)")):
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


def out_of_domain_lines(summary: Dict) -> List[str]:
    """The section on the out-of-domain sets: per set, each model's accuracy on it beside its test accuracy
    in the set's language; then the sets left out."""
    if "out_of_domain" not in summary:
        return []
    found, default = summary["out_of_domain"], summary["default_student"]
    lines = ["## Out of domain", "",
             "Each model's accuracy on a balanced sample of opinion texts from outside product reviews (its balanced "
             "accuracy; `spacy project run out-of-domain`), beside its accuracy on the language's MARC test reviews: "
             "the in-domain figures do not hold everywhere.", ""]
    for name, ood in found["sets"].items():
        lang = ood["lang"]
        rows = []
        for model, accuracy in ood["accuracy"].items():
            if model == STUDENT:
                continue
            in_domain = ood["in_domain"].get(model)
            rows.append([f"{name_of(model, default)} (`{model}`)", "–" if in_domain is None else f"{in_domain:.3f}", f"{accuracy:.3f}",
                         "–" if in_domain is None else f"{accuracy - in_domain:+.3f}"])
        lines += [f"### {name}: {ood['domain']} ({lang}, {ood['n']:,} texts)", "",
                  f"From {ood['source']}. Licence: {ood['licence']}.", "",
                  _table(["model", f"MARC test ({lang})", "out of domain", "difference"], rows), ""]
    lines += [f"- `{name}` left out: {why}." for name, why in found["left_out"].items()]
    if not found["sets"] and not found["left_out"]:
        lines.append("No set was named (var `out_of_domain_sets`).")
    return lines + [""]


def task_lines(summary: Dict) -> List[str]:
    """The tables of an ordered task's ORDINAL scores and the links to the confusion matrices, for a
    task of more than two labels."""
    if "task" not in summary:
        return []
    task = summary["task"]
    lines = []
    for score, title, text in ORDINAL_SECTIONS:
        if score in summary:
            lines += [f"## {title}", "", text.format(scale=" < ".join(task["scale"])), "",
                      accuracy_table(summary, score), ""]
    if "confusion" in summary:
        lines += ["## Confusion matrices", "",
                  f"The teacher's and the default student's test predictions of the task {task['name']} per "
                  "language: a row per gold label, a column per predicted one, each cell the count and its share "
                  "of the row, shaded by that share.", ""]
        lines += [f"![{lang}: confusion matrices of the teacher and the default student]"
                  f"({CONFUSION_NAME.format(lang=lang)})" for lang in summary["languages"]]
        lines.append("")
    return lines


def out_of_domain_sentence(summary: Dict) -> str:
    """The default student's and the teacher's mean accuracy out of domain, where the student was scored there."""
    sets = [ood for ood in summary.get("out_of_domain", {}).get("sets", {}).values() if STUDENT in ood["accuracy"]]
    if not sets:
        return ""
    student, teacher = (statistics.mean(ood["accuracy"][model] for ood in sets) for model in (STUDENT, TEACHER))
    return (f" Out of domain it scores {student:.3f} against the teacher's {teacher:.3f} (mean balanced accuracy on "
            f"{len(sets)} set{'s' if len(sets) > 1 else ''} of opinion texts from outside product reviews, "
            "section Out of domain).")


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
        f"{mean[BASELINE]:.3f}, at {_ratio(speed)} the teacher's words/s and 1/{size:,.0f} of its size."
        + out_of_domain_sentence(summary),
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
        *out_of_domain_lines(summary),
        "## Test macro-F1",
        "",
        accuracy_table(summary, "macro_f1"),
        "",
        *task_lines(summary),
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
    teacher_n_docs = bench.get("teacher_n_docs") or bench["n_docs"]
    if teacher_n_docs != bench["n_docs"]:
        n_docs += "; the teacher on the first " + ", ".join(f"{lang} {teacher_n_docs[lang]:,}"
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


def read_json(path: Path, step: str) -> Dict:
    """A JSON input, or MissingInput naming the step that writes it."""
    if not Path(path).is_file():
        raise MissingInput(f"Missing {path}: run `spacy project run {step}` first")
    return json.loads(Path(path).read_text(encoding="utf8"))


def write_report(evaluation_path: Path, benchmark_path: Path, student: str, summary_path: Path, output_dir: Path,
                 candidates: Sequence[str] = (), dev_metrics_dir: Optional[Path] = None,
                 labelling_path: Optional[Path] = None, reference_dir: Optional[Path] = None,
                 out_of_domain_path: Optional[Path] = None) -> Path:
    """Choose the default student (choose_student), build the summary, the report and the plot; return
    the report's path."""
    evaluation, bench = read_json(evaluation_path, "evaluate"), read_json(benchmark_path, "benchmark")
    dev_metrics = {name: read_json(Path(dev_metrics_dir) / f"{name}.json", f"the step that trains {name}")
                   for name in candidates} if dev_metrics_dir is not None else {}
    default_student, selection = choose_student(student, candidates, dev_metrics, bench)
    labelling = read_json(labelling_path, "label") if labelling_path is not None else None
    reference = None
    if "zero_label" in evaluation and reference_dir is not None:
        paths = {name: Path(reference_dir) / f"{name}.json" for name in (default_student, BASELINE)}
        absent = [str(path) for path in paths.values() if not path.is_file()]
        if absent:
            raise MissingInput(f"Missing {', '.join(absent)}: reference_metrics must be the metrics directory of "
                               "a run that trained these languages on their gold labels")
        reference = {name: json.loads(path.read_text(encoding="utf8")) for name, path in paths.items()}
    out_of_domain = read_json(out_of_domain_path, "out-of-domain") if out_of_domain_path is not None else None
    summary = build_summary(evaluation, bench, default_student, selection, labelling, reference,
                            dev_metrics.get(default_student), out_of_domain)
    write_json(summary_path, summary)
    plot_accuracy_vs_speed(summary, output_dir / PLOT_NAME)
    if "confusion" in summary:
        for lang in summary["languages"]:
            plot_confusion(summary, lang, output_dir / CONFUSION_NAME.format(lang=lang))
    report_path = output_dir / "report.md"
    with atomic_path(report_path) as tmp:
        tmp.write_text(render_report(summary), encoding="utf8")
    return report_path
