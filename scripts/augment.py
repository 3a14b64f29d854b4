"""Write synthetic variants of the training reviews (`spacy project run augment`): a CLI over review_distill.augment."""
import typer

from review_distill.augment import main

if __name__ == "__main__":
    typer.run(main)
