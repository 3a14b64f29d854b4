"""Collect each language's reviews (`spacy project run data`): a CLI over review_distill.sources."""
from pathlib import Path
from typing import List

import typer

from review_distill.cli import run
from review_distill.sources import collect_reviews


def main(
    languages: List[str] = typer.Argument(..., help="Language codes, e.g. en de ja"),
    output_dir: Path = typer.Option(Path("assets/reviews"), help="Where to write {lang}/{split}.jsonl"),
    source: str = typer.Option("auto", help="auto (local where there is a copy, else mirror), local, mirror or file"),
    data_dir: Path = typer.Option(Path("../shared/data/amazon_reviews_multi"), help="For source=local"),
    mirror_url: str = typer.Option(
        "https://huggingface.co/datasets/mteb/amazon_reviews_multi/resolve/main", help="For source=mirror"
    ),
    data_file: str = typer.Option("", help="For source=file: a CSV or JSONL file, or lang=path pairs"),
    text_field: str = typer.Option("text", help="Column of a file holding the review text"),
    label_field: str = typer.Option("label", help="Column of a file holding the label (empty: an unlabelled review)"),
    label_scheme: str = typer.Option("stars0", help="stars0 (0-4), stars (1-5) or labels (names as they are)"),
    task: str = typer.Option("binary", help="binary, three_way, stars or categories"),
    cache_dir: Path = typer.Option(Path("assets/mirror"), help="For source=mirror: downloaded files"),
    unlabeled: str = typer.Option("", help="Space-separated languages whose labels, if any, are for their test set only"),
):
    collect_reviews(
        languages,
        output_dir=output_dir,
        source=source,
        data_dir=data_dir,
        mirror_url=mirror_url,
        data_file=data_file,
        text_field=text_field,
        label_field=label_field,
        label_scheme=label_scheme,
        task=task,
        cache_dir=cache_dir,
        unlabeled=unlabeled.split(),
    )


if __name__ == "__main__":
    run(main)
