"""Deduplicate and split the reviews into train/dev/test DocBins and a pool (`spacy project run preprocess`): a CLI over review_distill.splits."""
import typer

from review_distill.splits import main

if __name__ == "__main__":
    typer.run(main)
