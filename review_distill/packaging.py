"""The `package` step: each language's student as a pip-installable wheel, built with `spacy package`.

The wheel holds the pipeline, the component's modules (--code: textcat_distill and the textcat_*
modules it imports), a `__main__.py` that explains a prediction (`python -m {lang}_{name} TEXT`) and
a meta.json with the task and its labels (described from the task, splits_dir/task.json), test scores,
the teacher (described from the trained teacher unless given) and the data's sources and licence (from
splits_dir/source.json), and a model card as its README.md (review_distill.model_card); it requires spaCy
and the language's tokenizer packages. A zero-label student's meta.json says it saw no gold labels. The
method: docs/method.md, "The packages"."""
import json
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Dict, List, Tuple

import spacy
from packaging.version import Version
from spacy.cli.package import TEMPLATE_INIT, package
from spacy.language import Language
from spacy.util import get_minor_version_range, split_requirement
from wasabi import msg

from .code_files import import_code_paths
from .errors import DataError, MissingInput, ProjectError
from .files import dir_size
from .model_card import CardFigures, model_card
from .models import STUDENT, TEACHER
from .provenance import MARC_DOMAIN, data_terms, derived_teacher, learned_from, source_lines
from .records import SOURCE_FILE, read_sources
from .tasks import Task, read_task, star_ranges

# Packages that spaCy's own tokenizers import: `spacy package` only lists the packages of
# registered functions that live outside spaCy, so a wheel would miss these.
TOKENIZER_PACKAGES = {
    ("spacy.ja.JapaneseTokenizer", None): ["sudachipy", "sudachidict-core"],
    ("spacy.zh.ChineseTokenizer", "jieba"): ["jieba"],
    ("spacy.zh.ChineseTokenizer", "pkuseg"): ["spacy-pkuseg"],
}
# The distribution of this project's own code (pyproject.toml), which no wheel needs.
PROJECT_DISTRIBUTION = "review-distill"
# The benchmark step's output in the metrics directory: the card's words/s and the teacher's size.
BENCHMARK_FILE = "benchmark.json"


def requirement(dist: str) -> str:
    """The installed version's minor range, as spaCy pins a pipeline's dependencies
    (e.g. jieba>=0.42.1,<0.43.0); a date-versioned dictionary gets a lower bound."""
    version = installed_version(dist)
    return dist + (get_minor_version_range(version) if len(Version(version).release) > 1 else f">={version}")


def tokenizer_requirements(config) -> List[str]:
    """The packages the pipeline's tokenizer needs, by the config's [nlp.tokenizer]."""
    tokenizer = config["nlp"]["tokenizer"]
    while "tokenizer" in tokenizer:  # a wrapper (review_distill.encodable_tokenizer.v1): the one inside it
        tokenizer = tokenizer["tokenizer"]
    return [requirement(dist) for dist in TOKENIZER_PACKAGES.get((tokenizer["@tokenizers"], tokenizer.get("segmenter")), [])]


def describe_task(task: Task) -> str:
    """What the classifier does, for the description: for a task of stars, each label's stars
    (binary: "labels a review POS (3-5 stars) or NEG (1-2 stars)"), else the labels."""
    if task.name == "stars":
        return "product-review rating classifier: labels a review with its stars, 1 to 5"
    ranges = star_ranges(task)
    if ranges:
        return "product-review sentiment classifier: labels a review " + _either(
            [f"{label} ({ranges[label]} stars)" for label in task.labels])
    return "review classifier: labels a review as " + _either(task.labels)


def _either(names: List[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def package_meta(nlp: Language, scores: Dict, name: str, version: str, teacher: str, task: Task,
                 learned: List[Dict], data_license: str) -> Dict:
    """The meta.json fields that say what the packaged pipeline is; `learned`: the sources it learned from
    (learned_from)."""
    language = type(nlp).__name__  # e.g. German
    terms = data_terms(learned, data_license)
    return {
        "name": name,
        "version": version,
        "description": (
            f"{language} {describe_task(task)}. A small spaCy text classifier distilled from a multilingual "
            "transformer."
        ),
        "task": task.name,
        "license": terms["license"],
        "sources": terms["sources"],
        "performance": {"test_accuracy": scores["accuracy"], "test_macro_f1": scores["macro_f1"]},
        "teacher": teacher,
        "data_caveat": terms["data_caveat"],
        "notes": (
            f"Test accuracy {scores['accuracy']:.3f}, macro-F1 {scores['macro_f1']:.3f}, on "
            f"{scores['n']} held-out {language} reviews.\n\nDistilled from: {teacher}.\n\n"
            f"**Data licence.** {terms['data_caveat']}"
        ),
        "requirements": tokenizer_requirements(nlp.config),
    }


def zero_label_meta(meta: Dict, language: str, scores: Dict, teacher_languages: List[str]) -> Dict:
    """The meta.json of a student that saw no gold label of its language (`scores` are on the gold test
    set, or marked as on the teacher-labelled dev set)."""
    said = (f"It saw no gold {language} label: the teacher learned from gold reviews of "
            f"{', '.join(teacher_languages)} only and labelled {language} reviews, and this student learned from "
            "those labels alone.")
    meta = {**meta, "description": f"{meta['description']} {said}", "gold_labels": False, "zero_label": said}
    if scores.get("labels") == "teacher-labelled dev":
        meta["performance"] = {"teacher_labelled_dev_accuracy": scores["accuracy"],
                               "teacher_labelled_dev_macro_f1": scores["macro_f1"]}
        scored = (f"No gold-labelled {language} test reviews: accuracy {scores['accuracy']:.3f}, macro-F1 "
                  f"{scores['macro_f1']:.3f}, on {scores['n']} held-out {language} reviews labelled by the teacher "
                  "(its agreement with the teacher).")
    else:
        scored = meta["notes"].split("\n\n")[0] + " Zero-label: no gold label of the language was trained on."
    meta["notes"] = "\n\n".join([scored, said, *meta["notes"].split("\n\n")[1:]])
    return meta


def check_labels(model_dir: Path, task: Task) -> None:
    """Raise DataError unless the trained student's labels are the task's."""
    meta = json.loads((model_dir / "meta.json").read_text(encoding="utf8"))
    labels = [label for pipe_labels in meta.get("labels", {}).values() for label in pipe_labels]
    if sorted(labels) != sorted(task.labels):
        raise DataError(f"The student at {model_dir} has the labels {labels}, but the task is {task.name} with the "
                        f"labels {list(task.labels)}: train the students again on the task's data")


def drop_project_requirement(package_dir: Path) -> None:
    """Take this project's own distribution out of the package's requirements. spaCy requires the
    distribution of each registered function's module, and the component's functions are those of
    this package's modules (review_distill.textcat_distill, ...); the wheel needs no more than the
    copies of them it ships."""
    meta_path = package_dir / "meta.json"
    meta = json.loads(meta_path.read_text(encoding="utf8"))
    meta["requirements"] = [req for req in meta["requirements"] if split_requirement(req)[0] != PROJECT_DISTRIBUTION]
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf8")


def add_code(package_path: Path, code: List[Path]) -> None:
    """Copy the code files into the package and import them in its __init__.py, as `spacy package
    --code` does. spaCy's would first import each file on its own, as a top-level module, where the
    component's relative imports between its modules fail."""
    for path in code:
        shutil.copy(path, package_path)
    imports = "\n".join(f"from . import {path.stem}" for path in code)
    (package_path / "__init__.py").write_text(TEMPLATE_INIT.format(imports=imports), encoding="utf-8")


def build_wheel(package_dir: Path) -> None:
    """Build the wheel as `spacy package` does: with `build`, or where that fails (offline, it cannot
    fetch setuptools into its isolated environment) with `setup.py bdist_wheel`, saying so."""
    if subprocess.run([sys.executable, "-m", "build", ".", "--wheel"], cwd=package_dir).returncode:
        msg.warn("Building the wheel with `python -m build` failed: trying `python setup.py bdist_wheel`")
        if subprocess.run([sys.executable, "setup.py", "bdist_wheel"], cwd=package_dir).returncode:
            raise ProjectError(f"Building the wheel in {package_dir} failed (see above)")


def read_input(path: Path, step: str) -> Dict:
    """A JSON file that `step` writes; MissingInput naming the step where it is missing."""
    if not path.is_file():
        raise MissingInput(f"Missing {path}: run `spacy project run {step}` first")
    return json.loads(path.read_text(encoding="utf8"))


def card_inputs(metrics_dir: Path, splits_dir: Path, student: str, languages: List[str], labelled: List[str]
                ) -> Tuple[Dict, Dict, Dict, Dict]:
    """The sources, split stats, teacher test scores and benchmark that the cards report; MissingInput naming
    the step to run where one is missing or lacks a language."""
    sources = read_sources(splits_dir / SOURCE_FILE)
    stats = {lang: read_input(splits_dir / lang / "stats.json", "preprocess") for lang in languages}
    teacher_path = metrics_dir / f"{TEACHER}.json"
    teacher_scores = read_input(teacher_path, "teacher-train")
    bench_path = metrics_dir / BENCHMARK_FILE
    bench = read_input(bench_path, "benchmark")
    for lang in languages:
        if lang not in sources:
            raise MissingInput(f"{splits_dir / SOURCE_FILE} has no source of {lang}: run `spacy project run data` "
                               "and `preprocess` with it first")
    for lang in labelled:
        if lang not in teacher_scores:
            raise MissingInput(f"{teacher_path} has no test scores for {lang}: run `spacy project run teacher-train` "
                               "with it first")
        for model in (student, TEACHER):
            if lang not in bench["models"].get(model, {}).get("words_per_second", {}):
                raise MissingInput(f"{bench_path} has no words/s of {model} for {lang}: run `spacy project run "
                                   "benchmark` with it first")
    return sources, stats, teacher_scores, bench


def out_of_domain_figures(summary: Dict, lang: str) -> List[Dict]:
    """The summary's out-of-domain sets of `lang` on which the default student was scored: each one's name,
    domain, size and the student's and the teacher's accuracy."""
    sets = summary.get("out_of_domain", {}).get("sets", {})
    return [{"name": name, "domain": found["domain"], "n": found["n"], "student": found["accuracy"][STUDENT],
             "teacher": found["accuracy"][TEACHER]}
            for name, found in sets.items() if found["lang"] == lang and STUDENT in found["accuracy"]]


def card_figures(lang: str, language: str, *, sources: Dict, teacher_languages: List[str], stats: Dict,
                 student: str, student_scores: Dict, teacher_scores: Dict, bench: Dict, pipeline_bytes: int,
                 out_of_domain: List[Dict]) -> CardFigures:
    """What the card of a language's package says, from the run's records and metrics (card_inputs)."""
    models = bench["models"]
    benchmarked = lang in models[student]["words_per_second"]
    own = sources[lang]
    return CardFigures(
        language=language,
        data=source_lines(sources, lang, teacher_languages),
        domain=f"reviews like those of {own['file']}" if own["source"] == "file" else MARC_DOMAIN,
        sizes=stats["sizes"],
        student=student,
        student_scores=student_scores,
        teacher_scores=teacher_scores.get(lang),
        words_per_second={"student": models[student]["words_per_second"][lang],
                          "teacher": models[TEACHER]["words_per_second"][lang]} if benchmarked else None,
        machine=bench["machine"]["cpu"],
        teacher_bytes=models[TEACHER]["size_bytes"],
        pipeline_bytes=pipeline_bytes,
        out_of_domain=out_of_domain,
    )


def package_students(
    training_dir: Path,
    output_dir: Path,
    languages: List[str],
    *,
    summary_path: Path,
    metrics_dir: Path,
    splits_dir: Path,
    code: List[Path],
    main_module: Path,
    name: str,
    version: str,
    teacher: str,
    teacher_dir: Path,
    data_license: str,
    unlabeled: List[str],
) -> None:
    """Package the default student (summary_path's) of each language as a wheel, in
    OUTPUT_DIR/{lang}_{name}-{version}/dist, shipping the `code` files and `main_module` as its
    __main__.py and a model card as its README.md; meta.json describes the task of splits_dir/task.json, the
    data of splits_dir/source.json (data_license: the licence of a user's file) and the teacher (`teacher`, or
    if empty the one trained at teacher_dir); the `unlabeled` languages' students saw no gold label."""
    task = read_task(splits_dir / "task.json")
    summary = json.loads(summary_path.read_text(encoding="utf8"))
    student = summary["default_student"]
    msg.info(f"Packaging the default student, {student}")
    training_dir = training_dir / student
    metrics_path = metrics_dir / f"{student}.json"
    if not metrics_path.is_file():
        raise MissingInput(f"Missing {metrics_path}: run the step that trains {student} first")
    metrics = json.loads(metrics_path.read_text(encoding="utf8"))
    dev_path = metrics_dir / "dev" / f"{student}.json"
    if any(lang not in metrics for lang in unlabeled) and dev_path.is_file():
        # An unlabeled language without a gold test set: its scores on the teacher-labelled dev set.
        dev = json.loads(dev_path.read_text(encoding="utf8"))
        metrics.update({lang: dev[lang] for lang in unlabeled if lang not in metrics and lang in dev})
    for lang in languages:
        model_dir = training_dir / lang / "model-best"
        if not (model_dir / "meta.json").is_file():
            raise MissingInput(f"No trained student at {model_dir}: run the student's training step for {lang} first")
        if lang not in metrics:
            raise MissingInput(f"{metrics_path} has no test scores for {lang}: evaluate the student for {lang} first")
        check_labels(model_dir, task)
    teacher_languages = [lang for lang in languages if lang not in unlabeled]
    sources, stats, teacher_scores, bench = card_inputs(metrics_dir, splits_dir, student, languages, teacher_languages)
    teacher = teacher or derived_teacher(teacher_dir, teacher_languages, task)
    import_code_paths(code)
    output_dir.mkdir(parents=True, exist_ok=True)
    for lang in languages:
        # exclude reaches Vocab.from_disk: the training texts' strings are not loaded.
        nlp = spacy.load(training_dir / lang / "model-best", exclude=["strings"])
        language = type(nlp).__name__
        learned = learned_from(sources, lang, teacher_languages)
        meta = package_meta(nlp, metrics[lang], name, version, teacher, task, learned, data_license)
        if lang in unlabeled:
            meta = zero_label_meta(meta, language, metrics[lang], teacher_languages)
        nlp.meta.update(meta)
        package_dir = output_dir / f"{lang}_{name}-{version}"
        shutil.rmtree(package_dir, ignore_errors=True)  # no stale build files in the new wheel
        with tempfile.TemporaryDirectory() as tmp:
            nlp.to_disk(Path(tmp))
            figures = card_figures(
                lang, language, sources=sources, teacher_languages=teacher_languages, stats=stats[lang],
                student=student, student_scores=metrics[lang], teacher_scores=teacher_scores, bench=bench,
                pipeline_bytes=dir_size(Path(tmp)), out_of_domain=out_of_domain_figures(summary, lang),
            )
            # spaCy ships the pipeline's README.md as the package's, the wheel's long description.
            (Path(tmp) / "README.md").write_text(model_card(f"{lang}_{name}", meta, task, figures), encoding="utf8")
            package(
                Path(tmp), output_dir, create_sdist=False, create_wheel=False, require_parent=True, force=True,
                silent=False,
            )
        drop_project_requirement(package_dir)
        add_code(package_dir / f"{lang}_{name}", code)
        shutil.copy(main_module, package_dir / f"{lang}_{name}" / "__main__.py")
        build_wheel(package_dir)
        wheel = next((package_dir / "dist").glob("*.whl"))
        msg.good(f"{lang}: {wheel} ({wheel.stat().st_size / 1e6:.2f} MB)")
