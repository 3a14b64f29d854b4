"""Package each language's student as a wheel (`spacy project run package`): a CLI over review_distill.packaging."""
import typer

from review_distill.packaging import main

if __name__ == "__main__":
    typer.run(main)
