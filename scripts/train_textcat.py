"""Train one textcat config per language with `spacy train` and score it on the test set.

Each language is trained into OUTPUT_DIR/{lang}; a language whose config and data are
unchanged since it last finished is not trained again, so a crashed run resumes.
"""
import hashlib
import json
from pathlib import Path
from typing import List, Optional

import spacy
import typer
from spacy.cli._util import import_code
from spacy.cli.train import train
from wasabi import msg

from evaluation import evaluate_textcat
from reviews import DataError, atomic_path, check_lang, tokenizer_overrides


def fingerprint(config_path: Path, overrides: dict, code_path: Optional[Path] = None) -> str:
    """A hash of everything a training run depends on: config, overrides, data files and code."""
    digest = hashlib.md5(config_path.read_bytes())
    digest.update(json.dumps(overrides, sort_keys=True).encode("utf8"))
    for key in ("paths.train", "paths.dev"):
        digest.update(Path(overrides[key]).read_bytes())
    if code_path is not None:
        digest.update(code_path.read_bytes())
    return digest.hexdigest()


def main(
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False),
    output_dir: Path = typer.Argument(..., help="Models go to OUTPUT_DIR/{lang}/model-best"),
    metrics_path: Path = typer.Argument(..., help="JSON file for test accuracy and macro-F1 per language"),
    languages: List[str] = typer.Argument(...),
    corpus_dir: Path = typer.Option(Path("corpus"), help="Holds {lang}/{train,dev,test}.spacy"),
    gpu_id: int = typer.Option(-1, help="GPU id, -1 for CPU"),
    code: Optional[Path] = typer.Option(
        None, exists=True, dir_okay=False, help="Python file with the config's custom functions, e.g. a factory"
    ),
):
    import_code(code)
    for lang in languages:
        try:
            check_lang(lang)
        except DataError as err:
            msg.fail(str(err), exits=1)
        for split in ("train", "dev", "test"):
            if not (corpus_dir / lang / f"{split}.spacy").is_file():
                msg.fail(f"Missing {corpus_dir / lang / split}.spacy: run `spacy project run preprocess` first", exits=1)
    metrics = {}
    for lang in languages:
        lang_corpus = corpus_dir / lang
        overrides = {
            "paths.train": str(lang_corpus / "train.spacy"),
            "paths.dev": str(lang_corpus / "dev.spacy"),
            "nlp.lang": lang,
            **tokenizer_overrides(lang),
        }
        lang_dir = output_dir / lang
        stamp_path = lang_dir / "fingerprint.txt"
        stamp = fingerprint(config_path, overrides, code)
        if stamp_path.is_file() and stamp_path.read_text() == stamp:
            msg.info(f"{lang}: {lang_dir} is up to date, not training again")
        else:
            msg.divider(f"Training {config_path.stem} for {lang}")
            train(config_path, lang_dir, use_gpu=gpu_id, overrides=overrides)
            stamp_path.write_text(stamp)
        nlp = spacy.load(lang_dir / "model-best")
        metrics[lang] = evaluate_textcat(nlp, lang_corpus / "test.spacy")
        msg.good(f"{lang}: test accuracy {metrics[lang]['accuracy']:.3f}, macro-F1 {metrics[lang]['macro_f1']:.3f}")
    for score in ("accuracy", "macro_f1"):
        metrics.setdefault("mean", {})[score] = sum(metrics[lang][score] for lang in languages) / len(languages)
    with atomic_path(metrics_path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf8")
    msg.good(f"Mean test accuracy {metrics['mean']['accuracy']:.3f}; metrics in {metrics_path}")


if __name__ == "__main__":
    typer.run(main)
