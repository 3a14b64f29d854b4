"""Train a textcat per language: the baselines and the students (`spacy project run baseline-bow`, `student-bow`, ...): a CLI over review_distill.training."""
import typer

from review_distill.training import main

if __name__ == "__main__":
    typer.run(main)
