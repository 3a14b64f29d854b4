"""Plain helpers shared by test modules (fixtures are in conftest.py): no test module imports another."""
import importlib.util
import json
import random
import sys
from functools import lru_cache
from pathlib import Path
from typing import Callable, Tuple
from unittest import mock

import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import Adam
from typer.testing import CliRunner

from review_distill import cli
from review_distill import teacher_functions  # noqa: F401  (registers configs/teacher.cfg's functions)
from review_distill.reviews import LABELS, make_nlp
from review_distill.splits import write_docbin

ROOT = Path(__file__).resolve().parents[1]


def write_lines(path: Path, rows) -> Path:
    """Write dicts as JSON lines (or raw strings as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


@lru_cache(maxsize=None)
def load_script(name: str):
    """The module scripts/{name}.py (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location(f"scripts_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def invoke(command: Callable, args) -> Tuple[int, str]:
    """Run `command` with the command-line arguments `args` as a script runs it (review_distill.cli.run):
    its exit status and output (stdout and stderr). An exception other than an exit propagates."""
    with CliRunner().isolation() as (_, _, output), mock.patch.object(sys, "argv", ["script", *map(str, args)]):
        try:
            cli.run(command)
            status = 0
        except SystemExit as exit_:
            status = exit_.code or 0
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        text = output.getvalue().decode("utf8")
    return status, text


# The label step's tests (tests/test_labelling.py, tests/test_labelling_ray.py).
TEXTS = {
    "en": ["Great case, fits well.", "Broke after a week!", "Nice bag, good price and fast delivery.",
           "Terrible. Do not buy.", "Works as described", "The zip broke on day two and the seller never answered."],
    "ja": ["思ったより小さかったです。", "とても良い商品です。また買います。", "届いた商品は壊れていました。",
           "使いやすい", "最悪。返品します。", "色が写真と違いました。"],
}


def words(lang, i):
    return " ".join(random.Random(f"{lang}{i}").choices(TEXTS[lang][0].split() + TEXTS[lang][3].split(), k=1 + i % 7))


def write_inputs(root, languages=("en",), n_pool=13, n_aug=11):
    """Gold train reviews (one-hot cats and ids), a pool and synthetic texts per language."""
    for lang in languages:
        reviews = [{"id": f"{lang}-t{i}", "text": text, "label": LABELS[i % 2]} for i, text in enumerate(TEXTS[lang])]
        write_docbin(make_nlp(lang), reviews, root / "splits" / lang / "train.spacy", desc="")
        write_lines(root / "splits" / lang / "pool.jsonl",
                    [{"id": f"{lang}-p{i}", "text": f"{words(lang, i)} p{i}"} for i in range(n_pool)])
        write_lines(root / "augmented" / f"{lang}.jsonl",
                    [{"id": f"{lang}-t{i % 6}-aug{i // 6}", "source_id": f"{lang}-t{i % 6}", "text": f"{words(lang, i)} a{i}",
                      "ops": ["mask", "ngram"][: i % 3]} for i in range(n_aug)])


def label_args(root, teacher, *languages, **options):
    """scripts/label.py's arguments for the inputs under `root`, with small sizes unless `options` say."""
    args = [str(teacher), *(languages or ["en"]), "--corpus-dir", str(root / "splits"),
            "--augmented-dir", str(root / "augmented"), "--shard-dir", str(root / "labels"),
            "--soft-dir", str(root / "soft"), "--hard-dir", str(root / "hard")]
    options = {"pool_size": 9, "augmented_size": 7, "shard_size": 4, "batch_size": 3, **options}
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", str(value)]
    return args


def run(root, teacher, *languages, expect=0, **options):
    """scripts/label.py on the inputs under `root`: its output, on one line; its exit status must be `expect`."""
    status, output = invoke(load_script("label").main, label_args(root, teacher, *languages, **options))
    output = " ".join(output.split())
    assert status == expect, output
    return output


def read(path, lang="en"):
    return list(DocBin().from_disk(path).get_docs(make_nlp(lang).vocab))


def save_tiny_transformer_teacher(path, tiny_transformer):
    """configs/teacher.cfg on a tiny random BERT, nudged off its initial weights, saved at `path`."""
    config = spacy.util.load_config(ROOT / "configs" / "teacher.cfg",
                                    overrides={"paths.teacher_model": str(tiny_transformer)}, interpolate=True)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    examples = [Example.from_dict(nlp.make_doc(text), {"cats": {"POS": float(i % 2 == 0), "NEG": float(i % 2 == 1)}})
                for i, text in enumerate(["great , love it !", "bad , broken !", "良い 良い", "质量 差"])]
    nlp.initialize(lambda: examples)
    nlp.update(examples, sgd=Adam(0.01))  # off the textcat's all-zero initial output layer
    nlp.to_disk(path)
