"""Score every model and the TF-IDF + LR peers side by side (`spacy project run evaluate`): a CLI over review_distill.evaluation."""
from pathlib import Path
from typing import List

import typer
from wasabi import msg

from review_distill.cli import run
from review_distill.evaluation import evaluate, print_evaluation


def main(
    languages: List[str] = typer.Argument(...),
    metrics_dir: Path = typer.Option(Path("metrics"), help="Holds {model}.json; the peers' metrics go here too"),
    splits_dir: Path = typer.Option(Path("corpus/splits"), help="Holds {lang}/{train,test}.spacy (gold)"),
    hard_dir: Path = typer.Option(Path("corpus/hard"), help="Holds {lang}/train.spacy (the teacher's argmax labels)"),
    output: Path = typer.Option(Path("metrics/evaluation.json"), help="Every model's test scores"),
    students: str = typer.Option(..., help="Space-separated students trained by `all`, e.g. 'student_bow'"),
    seed: int = typer.Option(0),
    unlabeled: str = typer.Option("", help="Space-separated languages whose gold labels no model trained on"),
):
    evaluation = evaluate(languages, metrics_dir, splits_dir, hard_dir, output, students.split(), seed=seed,
                          unlabeled=unlabeled.split())
    print_evaluation(evaluation)
    msg.good(f"Every model's test scores are in {output}")


if __name__ == "__main__":
    run(main)
