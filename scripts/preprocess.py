"""Deduplicate and split the reviews into train/dev/test DocBins and a pool (`spacy project run preprocess`): a CLI over review_distill.splits."""
from pathlib import Path
from typing import List

import typer

from review_distill.cli import run
from review_distill.splits import split_languages


def main(
    languages: List[str] = typer.Argument(..., help="Language codes"),
    input_dir: Path = typer.Option(Path("assets/reviews"), help="{lang}/{split}.jsonl from the data step"),
    output_dir: Path = typer.Option(Path("corpus"), help="Where to write {lang}/..."),
    n_train: int = typer.Option(1000),
    n_dev: int = typer.Option(1000),
    n_test: int = typer.Option(1000),
    seed: int = typer.Option(0),
    unlabeled: str = typer.Option("", help="Space-separated languages whose labels are for their test set only"),
):
    split_languages(languages, input_dir=input_dir, output_dir=output_dir, n_train=n_train, n_dev=n_dev,
                    n_test=n_test, seed=seed, unlabeled=unlabeled.split())


if __name__ == "__main__":
    run(main)
