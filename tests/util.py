"""Helpers that several test modules share (plain functions and data; the fixtures are in conftest.py):
no test module imports another."""
import contextlib
import io
import json
import random
import re
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Tuple
from unittest import mock

import numpy
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from thinc.api import Adam

from review_distill import splits
from review_distill import teacher_functions  # noqa: F401  (registers configs/teacher.cfg's functions)
from review_distill.records import SOURCE_FILE, write_sources
from review_distill.reviews import make_nlp
from review_distill.tasks import make_task, write_task
from review_distill.training import train_textcat

ROOT = Path(__file__).resolve().parents[1]


def write_lines(path: Path, rows) -> Path:
    """Write dicts as JSON lines (or raw strings as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def invoke_script(name: str, *args) -> Tuple[int, str]:
    """Run scripts/{name}.py in this process, as `python scripts/{name}.py ARGS` would; return its exit
    code and its output (stdout and stderr) with line wrapping undone. An exception other than an exit
    propagates."""
    path = ROOT / "scripts" / f"{name}.py"
    output = io.StringIO()
    with mock.patch.object(sys, "argv", [str(path), *map(str, args)]), \
            contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            runpy.run_path(str(path), run_name="__main__")
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, " ".join(output.getvalue().split())


def make_reviews(n_per_label: int, prefix: str, start: int = 0):
    """Distinct POS/NEG reviews with ids and labels."""
    return [
        {"id": f"{prefix}{i}", "text": f"{label.lower()} review {prefix}{i}", "label": label}
        for label in ("POS", "NEG")
        for i in range(start, start + n_per_label)
    ]


# --- The students' component (review_distill/textcat_*.py) ---

# The component's modules, as project.yml passes them to `--code`: textcat_distill and the modules it imports.
COMPONENT = [ROOT / "review_distill" / f"textcat_{name}.py" for name in ("distill", "models", "ngrams", "tokenizers", "explain")]
# What the package step ships: the component and the `score` command.
PACKAGE_CODE = [*COMPONENT, ROOT / "review_distill" / "textcat_score.py"]
# The students' tokenizer (configs/student_bow.cfg) around spaCy's rule-based one.
ENCODABLE = {"@tokenizers": "review_distill.encodable_tokenizer.v1", "tokenizer": {"@tokenizers": "spacy.Tokenizer.v1"}}

BOW = {
    "@architectures": "spacy.TextCatBOW.v3",
    "exclusive_classes": True,
    "ngram_size": 2,
    "no_output_layer": False,
    "length": 4096,
}
TINY_TOK2VEC = {
    "@architectures": "spacy.Tok2Vec.v2",
    "embed": {
        "@architectures": "spacy.MultiHashEmbed.v2",
        "width": 8,
        "attrs": ["NORM", "PREFIX"],
        "rows": [200, 100],
        "include_static_vectors": False,
    },
    "encode": {
        "@architectures": "spacy.MaxoutWindowEncoder.v2",
        "width": 8,
        "depth": 1,
        "window_size": 1,
        "maxout_pieces": 2,
    },
}
BATCHED_BOW = {**BOW, "@architectures": "review_distill.TextCatBOWBatched.v2"}
ENSEMBLE = {"@architectures": "spacy.TextCatEnsemble.v2", "tok2vec": TINY_TOK2VEC, "linear_model": BOW}
REDUCE = {
    "@architectures": "spacy.TextCatReduce.v1",
    "exclusive_classes": True,
    "use_reduce_first": False,
    "use_reduce_last": True,
    "use_reduce_max": True,
    "use_reduce_mean": True,
    "tok2vec": TINY_TOK2VEC,
}
BOW_V3 = {"@architectures": "review_distill.TextCatBOWBatched.v3", "ngram_size": 2, "length": 4096,
          "char_ngram_sizes": [3, 4], "normalize": True}
BOW_DAN_V2 = {"@architectures": "review_distill.TextCatBOWEmbed.v2", "ngram_size": 2, "length": 4096, "embed_width": 8,
              "embed_rows": 50, "hidden_width": 8, "dropout": 0.0, "char_ngram_sizes": [3, 4]}
MODELS = {"bow": BOW, "batched_bow": BATCHED_BOW, "ensemble": ENSEMBLE, "reduce": REDUCE, "bow_v3": BOW_V3,
          "bow_dan_v2": BOW_DAN_V2}
# (teacher P(POS), gold label or None)
SOFT_DATA = [
    ("a great phone , works well", 0.9, "POS"),
    ("it broke after a day", 0.15, "NEG"),
    ("fine , nothing special", 0.6, None),
    ("awful smell and bad glue", 0.02, None),
    ("lovely book", 0.97, "POS"),
    ("meh", 0.45, "NEG"),
]


def soft_examples(nlp, data=SOFT_DATA):
    examples = []
    for text, p_pos, gold in data:
        example = Example.from_dict(nlp.make_doc(text), {"cats": {"POS": p_pos, "NEG": 1.0 - p_pos}})
        if gold is not None:
            example.reference.user_data["gold_label"] = gold
        examples.append(example)
    return examples


def example(nlp, cats, text="some text", **user_data):
    eg = Example.from_dict(nlp.make_doc(text), {"cats": cats})
    eg.reference.user_data.update(user_data)
    return eg


def randomize(model, seed=0):
    """Random weights, so that no layer starts at zero and the probabilities are uneven."""
    rng = numpy.random.default_rng(seed)
    for node in model.walk():
        for name in node.param_names:
            if node.has_param(name):
                param = node.get_param(name)
                node.set_param(name, rng.normal(0, 0.3, param.shape).astype(param.dtype))


TOY_POS = ["good", "great", "lovely", "fine"]
TOY_NEG = ["bad", "awful", "poor", "broken"]
TOY_THINGS = ["phone", "book", "shoe", "lamp"]


def toy_corpus(nlp, p_pos, pos=TOY_POS, neg=TOY_NEG, things=TOY_THINGS):
    """Texts "{word} {thing}": POS words with P(POS) = p_pos, NEG words with 1 - p_pos."""
    return [
        example(nlp, {"POS": p, "NEG": 1.0 - p}, f"{word} {thing}")
        for words, p in ((pos, p_pos), (neg, 1.0 - p_pos))
        for word in words
        for thing in things
    ]


def write_docbin(path, examples):
    doc_bin = DocBin(store_user_data=True)
    for eg in examples:
        doc_bin.add(eg.reference)
    doc_bin.to_disk(path)
    return path


def train_toy_students(tmp_path, config_name, corpora, alpha=0.0, char_languages="", char_ngram_size=None,
                       task="binary", jobs=1):
    """Train a student config for a few steps with scripts/train_textcat.py, per language on
    corpora[lang] = (train examples, gold examples: dev and test alternately), the
    char_languages tokenized into characters (with n-grams of char_ngram_size, if given), of the task,
    `jobs` languages at a time.
    RETURNS: the training dir (of {lang}/model-best) and the test metrics file."""
    write_task(tmp_path / "corpus" / "task.json", make_task(task))
    for lang, (train, gold) in corpora.items():
        corpus = tmp_path / "corpus" / lang
        corpus.mkdir(parents=True)
        write_docbin(corpus / "train.spacy", train)
        write_docbin(corpus / "dev.spacy", gold[::2])
        write_docbin(corpus / "test.spacy", gold[1::2])
    config = tmp_path / f"{config_name}.cfg"
    text = (ROOT / "configs" / f"{config_name}.cfg").read_text()
    text = re.sub(r"eval_frequency = \d+", "eval_frequency = 5", re.sub(r"max_steps = \d+", "max_steps = 10", text))
    config.write_text(text.replace("alpha = 0.0", f"alpha = {alpha}"))
    training, metrics = tmp_path / "training" / config_name, tmp_path / "metrics" / f"{config_name}.json"
    train_textcat(
        config,
        training,
        metrics,
        list(corpora),
        dev_metrics_path=tmp_path / "metrics" / "dev" / f"{config_name}.json",
        corpus_dir=tmp_path / "corpus",
        code=COMPONENT,
        char_languages=char_languages.split(),
        char_ngram_size=char_ngram_size,
        jobs=jobs,
    )
    return training, metrics


# --- The packaged toy students (the `project` fixture, tests/conftest.py) ---

MAIN = ROOT / "review_distill" / "wheel_main.py"
TEACHER = "a toy teacher"
WORDS = {
    "de": (["toll", "klasse", "prima", "gut"], ["schlecht", "kaputt", "mies", "furchtbar"], ["Produkt", "Wasserkocher"]),
    "zh": (["很好", "喜欢"], ["很差", "坏了"], ["手机", "书"]),
    "ja": (["良い", "最高"], ["悪い", "最悪"], ["本", "靴"]),
}
# Split into characters, as the workflow's students of ja are.
CHAR_LANGUAGES = "ja"
# The teacher's test scores and the words/s of the packages' model cards.
TEACHER_SCORES = {"accuracy": 0.875, "macro_f1": 0.87, "n": 8, "ece": 0.05, "brier": 0.2}
WORDS_PER_SECOND = {"teacher": 1500.0, "student_bow": 1.5e6}
TEACHER_BYTES = 490_000_000


def write_card_inputs(root: Path, sources: dict, teacher_scores: dict, sizes: dict) -> None:
    """What the packages' model cards read besides the students' scores: where each language's reviews came
    from (root/corpus/source.json), its split sizes (root/corpus/{lang}/stats.json), the teacher's test scores
    (root/metrics/teacher.json) and a benchmark (root/metrics/benchmark.json)."""
    write_sources(root / "corpus" / SOURCE_FILE, sources)
    for lang in sources:
        (root / "corpus" / lang).mkdir(parents=True, exist_ok=True)
        (root / "corpus" / lang / "stats.json").write_text(json.dumps({"language": lang, "sizes": sizes}))
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    (root / "metrics" / "teacher.json").write_text(json.dumps(teacher_scores))
    models = {"teacher": {"size_bytes": TEACHER_BYTES}, "student_bow": {"size_bytes": {lang: 1 for lang in sources}}}
    for model, speed in WORDS_PER_SECOND.items():
        models[model]["words_per_second"] = {lang: speed for lang in sources}
    (root / "metrics" / "benchmark.json").write_text(json.dumps({"machine": {"cpu": "a test CPU"}, "models": models}))


# --- The label step's tests (tests/test_labelling.py, tests/test_labelling_ray.py) ---
TEXTS = {
    "en": ["Great case, fits well.", "Broke after a week!", "Nice bag, good price and fast delivery.",
           "Terrible. Do not buy.", "Works as described", "The zip broke on day two and the seller never answered."],
    "ja": ["思ったより小さかったです。", "とても良い商品です。また買います。", "届いた商品は壊れていました。",
           "使いやすい", "最悪。返品します。", "色が写真と違いました。"],
}


def words(lang, i):
    return " ".join(random.Random(f"{lang}{i}").choices(TEXTS[lang][0].split() + TEXTS[lang][3].split(), k=1 + i % 7))


def write_inputs(root, languages=("en",), n_pool=13, n_aug=11, task=make_task("binary")):
    """The task, gold train reviews (one-hot cats and ids), a pool and synthetic texts per language."""
    write_task(root / "splits" / "task.json", task)
    for lang in languages:
        reviews = [{"id": f"{lang}-t{i}", "text": text, "label": task.labels[i % len(task.labels)]}
                   for i, text in enumerate(TEXTS[lang])]
        splits.write_docbin(make_nlp(lang), reviews, root / "splits" / lang / "train.spacy", "", task.labels)
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
    status, output = invoke_script("label", *label_args(root, teacher, *languages, **options))
    assert status == expect, output
    return output


def read(path, lang="en"):
    return list(DocBin().from_disk(path).get_docs(make_nlp(lang).vocab))


def save_tiny_transformer_teacher(path, tiny_transformer, labels=("POS", "NEG")):
    """configs/teacher.cfg on a tiny random BERT, trained on `labels` and nudged off its initial weights,
    saved at `path`."""
    config = spacy.util.load_config(ROOT / "configs" / "teacher.cfg",
                                    overrides={"paths.teacher_model": str(tiny_transformer)}, interpolate=True)
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    texts = ["great , love it !", "bad , broken !", "良い 良い", "质量 差", "it is great .", "it is bad ."]
    examples = [Example.from_dict(nlp.make_doc(text), {"cats": {label: float(label == labels[i % len(labels)])
                                                                for label in labels}})
                for i, text in enumerate(texts[:max(4, len(labels))])]
    nlp.initialize(lambda: examples)
    nlp.update(examples, sgd=Adam(0.01))  # off the textcat's all-zero initial output layer
    nlp.to_disk(path)


# --- The package index ---


def pip_reaches_spacy() -> bool:
    """Whether pip finds this spaCy version on its index: pip's own timeout bounds the network wait,
    and the process is given as long as only a hang would need (a busy machine starts pip slowly)."""
    command = [sys.executable, "-m", "pip", "index", "versions", "spacy", "--timeout", "5", "--retries", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    return result.returncode == 0 and spacy.about.__version__ in result.stdout
