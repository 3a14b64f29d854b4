"""Fine-tune one multilingual teacher on the gold train sets of all languages together (their
dev sets together, or the first checkpoint_dev_docs of each, to pick the best checkpoint), then
score it per language on its whole dev and test sets, keeping its probabilities for the test
reviews (predictions.test_predictions_dir), which the examples step reads.

The merged train and dev DocBins go to MERGED_DIR. Training is skipped when the config, code,
data and transformer are unchanged since it last finished.

The --unlabeled languages are left out of its training and dev sets: it is scored on their gold
test sets, where they have one, as zero-shot (marked zero-label, out of the mean).
"""
import hashlib
import itertools
import time
from pathlib import Path
from typing import List, Sequence

import spacy
from spacy.cli._util import import_code
from spacy.cli.train import train
from spacy.tokens import DocBin
from wasabi import msg

from .device import check_device
from .errors import MissingInput
from .files import atomic_path
from .heap import map_large_blocks
from .predictions import test_predictions_dir
from .records import ENCODER_RECORD
from .reviews import check_lang, check_unlabeled
from .scores import evaluate_languages
from .training import fingerprint


def merge_docbins(paths: List[Path], output_path: Path, docs_per_file: int = 0) -> int:
    """Concatenate DocBins (user_data included) into one, the first docs_per_file docs of each if not 0;
    return the number of docs."""
    merged = DocBin(store_user_data=True)
    vocab = spacy.blank("xx").vocab
    for path in paths:
        docs = DocBin().from_disk(path).get_docs(vocab)
        for doc in itertools.islice(docs, docs_per_file or None):
            merged.add(doc)
    with atomic_path(output_path) as tmp:
        merged.to_disk(tmp)
    return len(merged)


def transformer_identity(name: str) -> str:
    """The transformer's name, plus a hash of its files' names and sizes if it is a local directory (but
    for the record of what the encoder is, which no weight depends on)."""
    path = Path(name)
    if not path.is_dir():
        return name
    files = sorted((file.name, file.stat().st_size) for file in path.iterdir()
                   if file.is_file() and file.name != ENCODER_RECORD)
    return name + hashlib.md5(repr(files).encode("utf8")).hexdigest()


def train_teacher(
    config_path: Path,
    output_dir: Path,
    metrics_path: Path,
    languages: List[str],
    *,
    dev_metrics_path: Path,
    corpus_dir: Path,
    merged_dir: Path,
    code: Path,
    transformer: str,
    frozen_fraction: float,
    frozen_embeddings: str,
    attention_dropout: float,
    gpu_id: int = -1,
    unlabeled: Sequence[str] = (),
    checkpoint_dev_docs: int = 0,
) -> None:
    """Train the teacher into OUTPUT_DIR on the merged sets and write its dev and test scores (module doc).
    `frozen_fraction` of the encoder's layers stay frozen, besides its embeddings (`frozen_embeddings`: all
    or words, as `freeze_encoder.v1` takes them); `attention_dropout` is
    the transformer's attention_probs_dropout_prob."""
    check_device(gpu_id)
    import_code(code)
    check_unlabeled(languages, unlabeled)
    zero_shot = {lang: corpus_dir / lang / "test.spacy" for lang in languages
                 if lang in unlabeled and (corpus_dir / lang / "test.spacy").is_file()}
    languages = [lang for lang in languages if lang not in unlabeled]
    for lang in languages:
        check_lang(lang)
        for split in ("train", "dev", "test"):
            if not (corpus_dir / lang / f"{split}.spacy").is_file():
                raise MissingInput(f"Missing {corpus_dir / lang / split}.spacy: run `spacy project run preprocess` first")
    if not Path(transformer).is_dir():
        msg.warn(
            f"{transformer} is not a local directory, so it will be fetched from the Hugging Face hub, "
            "which needs network access (`spacy project run teacher-encoder` builds the offline default)"
        )
    n_docs = merge_docbins([corpus_dir / lang / "train.spacy" for lang in languages], merged_dir / "train.spacy")
    msg.info(f"Merged train set: {n_docs} reviews in {len(languages)} languages")
    n_docs = merge_docbins([corpus_dir / lang / "dev.spacy" for lang in languages], merged_dir / "dev.spacy",
                           checkpoint_dev_docs)
    msg.info(f"Merged dev set, which picks the best checkpoint: {n_docs} reviews in {len(languages)} languages "
             "(each language's whole dev set is scored after training)")
    overrides = {
        "paths.train": str(merged_dir / "train.spacy"),
        "paths.dev": str(merged_dir / "dev.spacy"),
        "paths.teacher_model": transformer,
        "initialize.after_init.frozen_fraction": frozen_fraction,
        "initialize.after_init.embeddings": frozen_embeddings,
        "components.transformer.model.transformer_config.attention_probs_dropout_prob": attention_dropout,
    }
    stamp_path = output_dir / "fingerprint.txt"
    sources = [corpus_dir / lang / f"{split}.spacy" for split in ("train", "dev") for lang in languages]
    settings = {**overrides, "transformer": transformer_identity(transformer)}
    if checkpoint_dev_docs:
        settings["checkpoint_dev_docs"] = checkpoint_dev_docs
    stamp = fingerprint(config_path, settings, [*sources, code])
    if stamp_path.is_file() and stamp_path.read_text() == stamp:
        msg.info(f"{output_dir} is up to date, not training again")
    else:
        if not map_large_blocks():
            msg.warn("This C library is not glibc, whose mmap threshold the fine-tuning fixes (review_distill/heap.py): "
                     "it may take more memory here")
        start = time.perf_counter()
        train(config_path, output_dir, use_gpu=gpu_id, overrides=overrides)
        stamp_path.write_text(stamp)
        msg.good(f"Fine-tuned the teacher in {(time.perf_counter() - start) / 60:.1f} min")
    teacher = spacy.load(output_dir / "model-best")
    evaluate_languages(lambda lang: teacher, languages, corpus_dir, "dev", dev_metrics_path)
    evaluate_languages(lambda lang: teacher, languages, corpus_dir, "test", metrics_path, zero_shot,
                       predictions_dir=test_predictions_dir(output_dir))
