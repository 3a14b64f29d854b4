"""Score every model and the TF-IDF + LR peers side by side (`spacy project run evaluate`): a CLI over review_distill.evaluation."""
import typer

from review_distill.evaluation import main

if __name__ == "__main__":
    typer.run(main)
