"""Fine-tune one multilingual teacher on the gold train sets of all languages together (their
dev sets together for early stopping), then score it per language on dev and test.

The merged train and dev DocBins go to MERGED_DIR. Training is skipped when the config, code,
data and transformer are unchanged since it last finished.

The --unlabeled languages are left out of its training and dev sets: it is scored on their gold
test sets, where they have one, as zero-shot (marked zero-label, out of the mean).
"""
import hashlib
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
from .records import ENCODER_RECORD
from .reviews import check_lang, check_unlabeled
from .scores import evaluate_languages
from .training import fingerprint


def merge_docbins(paths: List[Path], output_path: Path) -> int:
    """Concatenate DocBins (user_data included) into one; return the number of docs."""
    merged = DocBin(store_user_data=True)
    vocab = spacy.blank("xx").vocab
    for path in paths:
        for doc in DocBin().from_disk(path).get_docs(vocab):
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
    gpu_id: int = -1,
    unlabeled: Sequence[str] = (),
) -> None:
    """Train the teacher into OUTPUT_DIR on the merged sets and write its dev and test scores (module doc)."""
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
    for split in ("train", "dev"):
        n_docs = merge_docbins([corpus_dir / lang / f"{split}.spacy" for lang in languages], merged_dir / f"{split}.spacy")
        msg.info(f"Merged {split} set: {n_docs} reviews in {len(languages)} languages")
    overrides = {
        "paths.train": str(merged_dir / "train.spacy"),
        "paths.dev": str(merged_dir / "dev.spacy"),
        "paths.teacher_model": transformer,
    }
    stamp_path = output_dir / "fingerprint.txt"
    sources = [corpus_dir / lang / f"{split}.spacy" for split in ("train", "dev") for lang in languages]
    stamp = fingerprint(config_path, {**overrides, "transformer": transformer_identity(transformer)}, [*sources, code])
    if stamp_path.is_file() and stamp_path.read_text() == stamp:
        msg.info(f"{output_dir} is up to date, not training again")
    else:
        start = time.perf_counter()
        train(config_path, output_dir, use_gpu=gpu_id, overrides=overrides)
        stamp_path.write_text(stamp)
        msg.good(f"Fine-tuned the teacher in {(time.perf_counter() - start) / 60:.1f} min")
    teacher = spacy.load(output_dir / "model-best")
    for split, path, zero_label in (("dev", dev_metrics_path, {}), ("test", metrics_path, zero_shot)):
        evaluate_languages(lambda lang: teacher, languages, corpus_dir, split, path, zero_label)
