"""Write the summary, the report and its plot (`spacy project run report`): a CLI over review_distill.report."""
import typer

from review_distill.report import main

if __name__ == "__main__":
    typer.run(main)
