"""Stop unless the teacher beats the baseline on dev (`spacy project run teacher-gate`): a CLI over review_distill.gate."""
import typer

from review_distill.gate import main

if __name__ == "__main__":
    typer.run(main)
