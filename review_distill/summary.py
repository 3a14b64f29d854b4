"""metrics/summary.json, from metrics/evaluation.json and metrics/benchmark.json: every model's scores,
speed, size, load time and memory, and the default student's ratios to the teacher and the tokenizer.

It also chooses the default student (`choose_student`): the best on mean dev accuracy of those
at TEACHER_TARGET times the teacher's words/s or more. A task other than binary adds its `task`, the
ordered tasks' scores (scores.ORDINAL) and, for more than two labels, each model's `confusion`
matrices. The fields of summary.json: docs/method.md, "Reading the report"."""
import statistics
from typing import Dict, List, Optional, Sequence, Tuple

from .errors import DataError
from .models import MODEL_ORDER, REQUIRED_MODELS, STUDENT, TEACHER, TOKENIZER, WORD_TOKENIZER
from .scores import ORDINAL
from .speed_target import TEACHER_TARGET, speed_ratios

AUTO = "auto"


def mean_over_languages(values) -> float:
    """A per-language figure's mean over the languages; a multilingual model's single figure as it is."""
    return statistics.mean(values.values()) if isinstance(values, dict) else values


def choose_student(student: str, candidates: Sequence[str], dev_metrics: Dict[str, Dict], bench: Dict) -> Tuple[str, Dict]:
    """The default student: `student` if it names one, else (`auto`) the candidate with the best mean dev
    accuracy among those at TEACHER_TARGET times the teacher's words/s or more in every language; and
    each candidate's figures."""
    languages = bench["languages"]
    selection = {}
    for name in candidates:
        if name not in dev_metrics:
            raise DataError(f"no dev scores for {name}: rerun the step that trains it")
        if name not in bench["models"]:
            raise DataError(f"the benchmark has no figures for {name}: rerun `spacy project run benchmark`")
        slowest = min(speed_ratios(bench["models"], name, languages)["vs_teacher"].values())
        selection[name] = {"mean_dev_accuracy": statistics.mean(dev_metrics[name][lang]["accuracy"] for lang in languages),
                           "slowest_vs_teacher_words_per_second": slowest, "fast_enough": slowest >= TEACHER_TARGET}
    if student != AUTO:
        return student, selection
    fast = [name for name in candidates if selection[name]["fast_enough"]]
    if not fast:
        slowest = ", ".join(f"{name} {figures['slowest_vs_teacher_words_per_second']:.0f}x"
                            for name, figures in selection.items())
        raise DataError(f"no student runs at {TEACHER_TARGET:g}x the teacher's words/s in every language "
                        f"(slowest language: {slowest}): name one with --vars.student")
    return max(fast, key=lambda name: selection[name]["mean_dev_accuracy"]), selection


def check_inputs(evaluation: Dict, bench: Dict, default_student: str) -> None:
    """Raise DataError, with the step to rerun, where evaluation.json or benchmark.json lack a model
    or a language the summary needs."""
    absent = [lang for lang in evaluation["languages"] if lang not in bench["languages"]]
    if absent:
        raise DataError(f"the benchmark has no figures for {', '.join(absent)}: rerun `spacy project run benchmark`")
    for model in (*REQUIRED_MODELS, default_student):
        if model not in evaluation["models"]:
            raise DataError(f"the evaluation has no scores for {model}: rerun `spacy project run evaluate`")
    for model in (TEACHER, default_student, TOKENIZER, WORD_TOKENIZER):
        if model not in bench["models"]:
            raise DataError(f"the benchmark has no figures for {model}: rerun `spacy project run benchmark`")


def speed_summary(benched: Dict, speed_models: List[str], languages: List[str], default_student: str) -> Dict:
    """The summary's speed, size, load time and memory figures, and the default student's ratios to
    the teacher and the tokenizer."""
    summary: Dict = {}
    for key in ("words_per_second", "docs_per_second"):
        summary[key] = {m: {lang: benched[m][key][lang] for lang in languages} for m in speed_models}
    summary["mean_words_per_second"] = {m: mean_over_languages(summary["words_per_second"][m]) for m in speed_models}
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
    provenance["teacher_n_docs"] = benched[TEACHER].get("n_docs")
    for key in ("batch_size", "repeats", "passes"):
        provenance[key] = {m: benched[m][key] for m in measured}
    provenance["timed_in_turns"] = [[benched[m]["timed_with"], m] for m in measured if benched[m].get("timed_with")]
    return provenance


def build_summary(evaluation: Dict, bench: Dict, default_student: str, selection: Optional[Dict] = None,
                  labelling: Optional[Dict] = None, reference: Optional[Dict[str, Dict]] = None,
                  dev_scores: Optional[Dict[str, Dict]] = None, out_of_domain: Optional[Dict] = None) -> Dict:
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
    if "task" in evaluation:
        summary.update(task_summary(evaluation["task"], scores, order, languages))
    summary["labelling"] = labelling or {}
    speed_models = [m for m in order if m in benched] + [TOKENIZER, WORD_TOKENIZER]
    summary.update(speed_summary(benched, speed_models, languages, default_student))
    summary["benchmark"] = benchmark_provenance(bench, benched, speed_models)
    summary["test_docs"] = {lang: scores[default_student][lang]["n"] for lang in languages}
    if "zero_label" in evaluation:
        summary["zero_label"] = zero_label_summary(evaluation["zero_label"], default_student, reference or {},
                                                   dev_scores or {})
    if out_of_domain is not None:
        summary["out_of_domain"] = out_of_domain_summary(out_of_domain, scores, default_student)
    return summary


def out_of_domain_summary(result: Dict, scores: Dict[str, Dict], default_student: str) -> Dict:
    """The out-of-domain part of summary.json from out_of_domain.json: per set its provenance, each model's
    accuracy on it and its test accuracy in the set's language (the default student also as STUDENT),
    and the sets left out with why."""
    sets = {}
    for name, found in result["sets"].items():
        accuracy = {model: values["accuracy"] for model, values in result["scores"][name].items()}
        if default_student in accuracy:
            accuracy[STUDENT] = accuracy[default_student]
        lang = found["lang"]
        sets[name] = {**{key: found[key] for key in ("lang", "domain", "source", "licence", "n")},
                      "accuracy": accuracy,
                      "in_domain": {model: scores[model][lang]["accuracy"] for model in accuracy
                                    if lang in scores.get(model, {})}}
    return {"sets": sets, "left_out": result["left_out"]}


def task_summary(task: Dict, scores: Dict[str, Dict], models: Sequence[str], languages: Sequence[str]) -> Dict:
    """A task other than binary's part of summary.json: the task (as evaluation.json names it), the
    ORDINAL scores of the models that have them (and their means), and the models' confusion
    matrices (rows gold, columns predicted, in the order of the task's labels)."""
    summary: Dict = {"task": task}
    for score in ORDINAL:
        values = {m: {lang: scores[m][lang][score] for lang in languages} for m in models
                  if all(score in scores[m][lang] for lang in languages)}
        if values:
            summary[score] = values
            summary[f"mean_{score}"] = {m: statistics.mean(per_lang.values()) for m, per_lang in values.items()}
    confusion = {m: {lang: scores[m][lang]["confusion"] for lang in languages} for m in models
                 if all("confusion" in scores[m][lang] for lang in languages)}
    if confusion:
        summary["confusion"] = confusion
    return summary


def zero_label_summary(zero_label: Dict, default_student: str, reference: Dict[str, Dict],
                       dev_scores: Dict[str, Dict]) -> Dict:
    """summary.json's `zero_label` (docs/method.md, "Reading the report") from evaluation.json's, the
    reference run's test scores ({model: metrics}) and the default student's dev scores."""
    languages, models = zero_label["languages"], zero_label["models"]
    if default_student not in models:
        raise DataError(f"the evaluation has no zero-label scores for {default_student}: rerun "
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
                raise DataError(f"the reference run's {name} has no scores for {lang} trained on its gold labels")
            if entry["n"] != models[STUDENT][lang]["n"]:
                raise DataError(f"the reference run's {name} was scored on {entry['n']} {lang} test reviews, this run "
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


def table_models(summary: Dict) -> List[str]:
    """The models of the tables: `student` is shown under its own name."""
    return [m for m in summary["models"] if m != STUDENT]
