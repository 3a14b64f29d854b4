"""Write the page of explained test reviews (`spacy project run examples`): a CLI over review_distill.examples."""
from pathlib import Path
from typing import List

import typer

from review_distill.cli import run
from review_distill.examples import write_examples


def main(
    languages: List[str] = typer.Argument(..., help="Language codes"),
    training_dir: Path = typer.Option(Path("training"), help="Holds {student}/{lang}/model-best and teacher/predictions"),
    splits_dir: Path = typer.Option(Path("corpus/splits"), help="Holds {lang}/test.spacy"),
    summary_path: Path = typer.Option(Path("metrics/summary.json"), "--summary", help="Names the default student"),
    output: Path = typer.Option(Path("reports/examples.html"), help="The page to write"),
    n_per_group: int = typer.Option(4, help="Reviews per group and language"),
    top_n: int = typer.Option(12, help="Top n-grams per label and language"),
    unlabeled: str = typer.Option("", help="Space-separated languages that may have no gold test set (then skipped)"),
):
    write_examples(languages, training_dir=training_dir, splits_dir=splits_dir, summary_path=summary_path,
                   output=output, n_per_group=n_per_group, top_n=top_n,
                   unlabeled=unlabeled.split())


if __name__ == "__main__":
    run(main)
