"""Write the page of explained test reviews (`spacy project run examples`): a CLI over review_distill.examples."""
import typer

from review_distill.examples import main

if __name__ == "__main__":
    typer.run(main)
