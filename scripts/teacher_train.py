"""Fine-tune the multilingual transformer teacher (`spacy project run teacher-train`): a CLI over review_distill.teacher."""
import typer

from review_distill.teacher import main

if __name__ == "__main__":
    typer.run(main)
