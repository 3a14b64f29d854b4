"""Label texts with the teacher's probabilities, in resumable shards (`spacy project run label`): a CLI over review_distill.labelling."""
import typer

from review_distill.labelling import main

if __name__ == "__main__":
    typer.run(main)
