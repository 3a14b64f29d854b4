"""Train a textcat per language: the baselines and the students (`spacy project run baseline-bow`, `student-bow`, ...): a CLI over review_distill.training."""
from pathlib import Path
from typing import List, Optional

import typer

from review_distill.cli import run
from review_distill.code_files import code_paths
from review_distill.training import train_textcat


def main(
    config_path: Path = typer.Argument(..., exists=True, dir_okay=False),
    output_dir: Path = typer.Argument(..., help="Models go to OUTPUT_DIR/{lang}/model-best"),
    metrics_path: Path = typer.Argument(..., help="JSON file for test accuracy and macro-F1 per language"),
    languages: List[str] = typer.Argument(...),
    dev_metrics_path: Path = typer.Option(..., "--dev-metrics", help="JSON file for the dev scores"),
    corpus_dir: Path = typer.Option(Path("corpus"), help="Holds {lang}/{train,dev,test}.spacy"),
    train_dir: Optional[Path] = typer.Option(None, help="Holds {lang}/train.spacy, if not the corpus dir"),
    gpu_id: int = typer.Option(-1, help="GPU id, -1 for CPU"),
    code: Optional[str] = typer.Option(
        None, help="Comma-separated Python files with the config's custom functions, e.g. a factory"
    ),
    char_languages: str = typer.Option(
        "", help="Space-separated languages to tokenize into characters (the tokenizer is in review_distill/textcat_tokenizers.py)"
    ),
    char_ngram_size: Optional[int] = typer.Option(
        None, min=1, help="The model's ngram_size for the --char-languages, if not the config's"
    ),
    unlabeled: str = typer.Option("", help="Space-separated languages without gold train or dev sets (module doc)"),
    jobs: int = typer.Option(1, min=0, help="Languages trained at a time, each in a process of its own (0: one per CPU)"),
):
    train_textcat(config_path, output_dir, metrics_path, languages, dev_metrics_path=dev_metrics_path,
                  corpus_dir=corpus_dir, train_dir=train_dir, gpu_id=gpu_id, code=code_paths(code),
                  char_languages=char_languages.split(), char_ngram_size=char_ngram_size, unlabeled=unlabeled.split(),
                  jobs=jobs)


if __name__ == "__main__":
    run(main)
