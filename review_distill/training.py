"""Train one textcat config per language with `spacy train` and score it on dev and test.

Each language is trained into OUTPUT_DIR/{lang}, one after another or `jobs` at a time in processes of
their own (the same models: each `spacy train` run is seeded); a language whose config and data are
unchanged since it last finished is not trained again, so a crashed run resumes.

An --unlabeled language has no gold train or dev set: a model trained on gold labels (no
--train-dir) skips it; a student takes its dev set from TRAIN_DIR/{lang}/dev.spacy (reviews the
teacher labelled) and is scored on the language's gold test set where it has one, both marked
zero-label and left out of the means.
"""
import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Iterable, List, Optional, Sequence, Tuple

import spacy
from spacy.cli.train import train
from spacy.util import load_config
from tqdm import tqdm
from wasabi import msg

from .code_files import import_code_paths
from .device import check_device
from .errors import MissingInput, ProjectError
from .reviews import check_lang, check_unlabeled, tokenizer_overrides
from .scores import evaluate_languages
from .tasks import read_task

FINGERPRINT = "fingerprint.txt"
# A language's training output where languages train in parallel.
LOG = "train.log"


def available_cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def fingerprint(config_path: Path, overrides: dict, files: List[Path]) -> str:
    """A hash of everything a training run depends on: config, overrides, and the data and
    code files it reads."""
    digest = hashlib.md5(config_path.read_bytes())
    digest.update(json.dumps(overrides, sort_keys=True).encode("utf8"))
    for path in files:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


def train_language(config_path: Path, lang_dir: Path, overrides: dict, stamp: str, gpu_id: int = -1) -> None:
    """`spacy train` the config into lang_dir; its fingerprint is written when it has finished."""
    train(config_path, lang_dir, use_gpu=gpu_id, overrides=overrides)
    (lang_dir / FINGERPRINT).write_text(stamp)


def _train_logged(config_path: Path, lang_dir: Path, overrides: dict, stamp: str, code: Sequence[Path]) -> None:
    """train_language in a worker process, its output (C-level too) to lang_dir/LOG."""
    import_code_paths(code)
    lang_dir.mkdir(parents=True, exist_ok=True)
    with (lang_dir / LOG).open("w", encoding="utf8") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        train_language(config_path, lang_dir, overrides, stamp)


def train_in_parallel(config_path: Path, output_dir: Path, runs: List[Tuple[str, dict, str]], jobs: int,
                      code: Sequence[Path]) -> None:
    """Train the languages of runs in `jobs` processes at a time, each as train_language trains it in
    this one; each one's output goes to OUTPUT_DIR/{lang}/LOG and is printed when it has finished."""
    msg.info(f"Training {config_path.stem} for {', '.join(lang for lang, _, _ in runs)}, {jobs} at a time "
             f"(each one's output: {output_dir}/{{lang}}/{LOG})")
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(_train_logged, config_path, output_dir / lang, overrides, stamp, code): lang
                   for lang, overrides, stamp in runs}
        for future in tqdm(as_completed(futures), total=len(futures), desc=f"{config_path.stem} languages"):
            lang = futures[future]
            log = output_dir / lang / LOG
            output = log.read_text(encoding="utf8", errors="replace") if log.is_file() else ""
            if future.exception() is not None:
                for other in futures:
                    other.cancel()  # those not started; the ones running finish, and are kept
                raise ProjectError(f"Training {config_path.stem} for {lang} failed: {future.exception()!r}\n"
                                   f"{output[-3000:]}")
            msg.divider(f"Trained {config_path.stem} for {lang}")
            print(output)


def train_textcat(
    config_path: Path,
    output_dir: Path,
    metrics_path: Path,
    languages: List[str],
    *,
    dev_metrics_path: Path,
    corpus_dir: Path = Path("corpus"),
    train_dir: Optional[Path] = None,
    gpu_id: int = -1,
    code: Sequence[Path] = (),
    char_languages: Iterable[str] = (),
    char_ngram_size: Optional[int] = None,
    unlabeled: Iterable[str] = (),
    jobs: int = 1,
) -> None:
    """Train the config per language into OUTPUT_DIR/{lang}, `jobs` languages at a time (0: one per
    CPU; one on a GPU), and write its dev and test scores (module doc)."""
    check_device(gpu_id)
    import_code_paths(code)
    unlabeled = list(unlabeled)
    check_unlabeled(languages, unlabeled)
    task = read_task(corpus_dir / "task.json")
    if train_dir is None and unlabeled:
        msg.info(f"Not training {config_path.stem} for {', '.join(unlabeled)}: on gold labels, and "
                 f"{'they are unlabeled languages' if len(unlabeled) > 1 else 'it is an unlabeled language'}")
        languages = [lang for lang in languages if lang not in unlabeled]
    char_languages = set(char_languages)
    train_dir = train_dir or corpus_dir
    # A tokenizer that wraps another (review_distill.encodable_tokenizer.v1) gets the language's inside it.
    wrapped = "tokenizer" in load_config(config_path)["nlp"].get("tokenizer", {})
    dev_paths = {lang: (train_dir if lang in unlabeled else corpus_dir) / lang / "dev.spacy" for lang in languages}
    for lang in languages:
        check_lang(lang)
        paths = [train_dir / lang / "train.spacy", dev_paths[lang]] + [corpus_dir / lang / "test.spacy"] * (lang not in unlabeled)
        for path in paths:
            if not path.is_file():
                raise MissingInput(f"Missing {path}: run the steps before this one first (`spacy project run all`)")
    runs = []
    for lang in languages:
        overrides = {
            "paths.train": str(train_dir / lang / "train.spacy"),
            "paths.dev": str(dev_paths[lang]),
            "nlp.lang": lang,
            **tokenizer_overrides(lang, chars=lang in char_languages, wrapped=wrapped),
        }
        if lang in char_languages and char_ngram_size is not None:
            overrides["components.textcat.model.ngram_size"] = char_ngram_size
        lang_dir = output_dir / lang
        stamp = fingerprint(config_path, overrides, [overrides["paths.train"], overrides["paths.dev"], *code])
        if (lang_dir / FINGERPRINT).is_file() and (lang_dir / FINGERPRINT).read_text() == stamp:
            msg.info(f"{lang}: {lang_dir} is up to date, not training again")
        else:
            runs.append((lang, overrides, stamp))
    jobs = 1 if gpu_id >= 0 else max(1, min(jobs or available_cpus(), len(runs)))
    if jobs == 1:
        for lang, overrides, stamp in runs:
            msg.divider(f"Training {config_path.stem} for {lang}")
            train_language(config_path, output_dir / lang, overrides, stamp, gpu_id)
    else:
        train_in_parallel(config_path, output_dir, runs, jobs, code)
    labelled = [lang for lang in languages if lang not in unlabeled]
    zero_label = {"dev": {lang: dev_paths[lang] for lang in languages if lang in unlabeled},
                  "test": {lang: corpus_dir / lang / "test.spacy" for lang in languages
                           if lang in unlabeled and (corpus_dir / lang / "test.spacy").is_file()}}
    for split, path in (("dev", dev_metrics_path), ("test", metrics_path)):
        evaluate_languages(lambda lang: spacy.load(output_dir / lang / "model-best"), labelled, corpus_dir, split, path,
                           zero_label[split], task=task)
