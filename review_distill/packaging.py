"""The `package` step: each language's student as a pip-installable wheel, built with `spacy package`.

The wheel holds the pipeline, the component's modules (--code: textcat_distill and the textcat_*
modules it imports), a `__main__.py` that explains a prediction (`python -m {lang}_{name} TEXT`) and
a meta.json with the task and its labels (described from the task, splits_dir/task.json), test scores,
the teacher and the data licence; it requires spaCy and the language's tokenizer packages. A zero-label
student's meta.json says it saw no gold labels. The method: docs/method.md, "The packages"."""
import json
import shutil
import subprocess
import sys
import tempfile
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import Dict, List

import spacy
from packaging.version import Version
from spacy.cli.package import TEMPLATE_INIT, package
from spacy.language import Language
from spacy.util import get_minor_version_range, split_requirement
from wasabi import msg

from .code_files import import_code_paths
from .errors import DataError, MissingInput, ProjectError
from .tasks import STAR_LABELS, Task, read_task

# Packages that spaCy's own tokenizers import: `spacy package` only lists the packages of
# registered functions that live outside spaCy, so a wheel would miss these.
TOKENIZER_PACKAGES = {
    ("spacy.ja.JapaneseTokenizer", None): ["sudachipy", "sudachidict-core"],
    ("spacy.zh.ChineseTokenizer", "jieba"): ["jieba"],
    ("spacy.zh.ChineseTokenizer", "pkuseg"): ["spacy-pkuseg"],
}
# The distribution of this project's own code (pyproject.toml), which no wheel needs.
PROJECT_DISTRIBUTION = "review-distill"
LICENSE = "No licence set; non-commercial research use only (see data_caveat)"
MARC_LICENSE_URL = "https://docs.opendata.aws/amazon-reviews-ml/license.txt"
SOURCE = {
    "name": "Multilingual Amazon Reviews Corpus (MARC)",
    "url": "https://registry.opendata.aws/amazon-reviews-ml/",
    "author": "Keung et al., 2020",
    "license": f"Amazon's MARC licence, academic research only ({MARC_LICENSE_URL})",
}
DATA_CAVEAT = (
    "Trained on product reviews from the Multilingual Amazon Reviews Corpus (MARC). Amazon "
    "grants a limited, non-exclusive, non-transferable, non-sublicensable, revocable licence to "
    "use MARC for academic research only: the corpus and its contents may not be resold, "
    "republished or used commercially (commercial research included), and its content may not "
    "be linked to personal information or used to identify the reviews' authors "
    f"({MARC_LICENSE_URL}). This package holds no review text: the classifier's weights are "
    "indexed by hashes of n-grams, and the words of the training texts were removed from its "
    "string store. Whether the licence's terms extend to weights learned from the corpus is not "
    "settled; use this pipeline for non-commercial research only."
)


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
    if task.name in STAR_LABELS:
        stars = STAR_LABELS[task.name]
        ranges = [[n for n, star_label in enumerate(stars, 1) if star_label == label] for label in task.labels]
        return "product-review sentiment classifier: labels a review " + _either(
            [f"{label} ({n[0]}{'' if len(n) == 1 else f'-{n[-1]}'} stars)" for label, n in zip(task.labels, ranges)])
    return "review classifier: labels a review as " + _either(task.labels)


def _either(names: List[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def package_meta(nlp: Language, scores: Dict, name: str, version: str, teacher: str, task: Task) -> Dict:
    """The meta.json fields that say what the packaged pipeline is."""
    language = type(nlp).__name__  # e.g. German
    return {
        "name": name,
        "version": version,
        "description": (
            f"{language} {describe_task(task)}. A small spaCy text classifier distilled from a multilingual "
            "transformer."
        ),
        "task": task.name,
        "license": LICENSE,
        "sources": [SOURCE],
        "performance": {"test_accuracy": scores["accuracy"], "test_macro_f1": scores["macro_f1"]},
        "teacher": teacher,
        "data_caveat": DATA_CAVEAT,
        "notes": (
            f"Test accuracy {scores['accuracy']:.3f}, macro-F1 {scores['macro_f1']:.3f}, on "
            f"{scores['n']} held-out {language} reviews.\n\nDistilled from: {teacher}.\n\n"
            f"**Data licence.** {DATA_CAVEAT}"
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
    unlabeled: List[str],
) -> None:
    """Package the default student (summary_path's) of each language as a wheel, in
    OUTPUT_DIR/{lang}_{name}-{version}/dist, shipping the `code` files and `main_module` as its
    __main__.py; meta.json describes the task of splits_dir/task.json; the `unlabeled` languages'
    students saw no gold label."""
    task = read_task(splits_dir / "task.json")
    student = json.loads(summary_path.read_text(encoding="utf8"))["default_student"]
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
    import_code_paths(code)
    output_dir.mkdir(parents=True, exist_ok=True)
    for lang in languages:
        # exclude reaches Vocab.from_disk: the training texts' strings are not loaded.
        nlp = spacy.load(training_dir / lang / "model-best", exclude=["strings"])
        meta = package_meta(nlp, metrics[lang], name, version, teacher, task)
        if lang in unlabeled:
            teacher_languages = [other for other in languages if other not in unlabeled]
            meta = zero_label_meta(meta, type(nlp).__name__, metrics[lang], teacher_languages)
        nlp.meta.update(meta)
        package_dir = output_dir / f"{lang}_{name}-{version}"
        shutil.rmtree(package_dir, ignore_errors=True)  # no stale build files in the new wheel
        with tempfile.TemporaryDirectory() as tmp:
            nlp.to_disk(Path(tmp))
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
