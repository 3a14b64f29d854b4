"""Train one textcat config per language with `spacy train` and score it on dev and test.

Each language is trained into OUTPUT_DIR/{lang}; a language whose config and data are
unchanged since it last finished is not trained again, so a crashed run resumes.

An --unlabeled language has no gold train or dev set: a model trained on gold labels (no
--train-dir) skips it; a student takes its dev set from TRAIN_DIR/{lang}/dev.spacy (reviews the
teacher labelled) and is scored on the language's gold test set where it has one, both marked
zero-label and left out of the means.
"""
import hashlib
import json
from pathlib import Path
from typing import Iterable, List, Optional, Sequence

import spacy
from spacy.cli.train import train
from spacy.util import load_config
from wasabi import msg

from .code_files import import_code_paths
from .device import check_device
from .errors import MissingInput
from .reviews import check_lang, check_unlabeled, tokenizer_overrides
from .scores import evaluate_languages
from .tasks import read_task


def fingerprint(config_path: Path, overrides: dict, files: List[Path]) -> str:
    """A hash of everything a training run depends on: config, overrides, and the data and
    code files it reads."""
    digest = hashlib.md5(config_path.read_bytes())
    digest.update(json.dumps(overrides, sort_keys=True).encode("utf8"))
    for path in files:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()


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
) -> None:
    """Train the config per language into OUTPUT_DIR/{lang} and write its dev and test scores (module doc)."""
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
        stamp_path = lang_dir / "fingerprint.txt"
        stamp = fingerprint(config_path, overrides, [overrides["paths.train"], overrides["paths.dev"], *code])
        if stamp_path.is_file() and stamp_path.read_text() == stamp:
            msg.info(f"{lang}: {lang_dir} is up to date, not training again")
        else:
            msg.divider(f"Training {config_path.stem} for {lang}")
            train(config_path, lang_dir, use_gpu=gpu_id, overrides=overrides)
            stamp_path.write_text(stamp)
    labelled = [lang for lang in languages if lang not in unlabeled]
    zero_label = {"dev": {lang: dev_paths[lang] for lang in languages if lang in unlabeled},
                  "test": {lang: corpus_dir / lang / "test.spacy" for lang in languages
                           if lang in unlabeled and (corpus_dir / lang / "test.spacy").is_file()}}
    for split, path in (("dev", dev_metrics_path), ("test", metrics_path)):
        evaluate_languages(lambda lang: spacy.load(output_dir / lang / "model-best"), labelled, corpus_dir, split, path,
                           zero_label[split], task=task)
