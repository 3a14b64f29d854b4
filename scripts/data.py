"""Collect each language's reviews (`spacy project run data`): a CLI over review_distill.sources."""
import typer

from review_distill.sources import main

if __name__ == "__main__":
    typer.run(main)
