"""Words/s, size, load time and memory of every model (`spacy project run benchmark`): a CLI over review_distill.benchmark."""
from review_distill.benchmark import app

if __name__ == "__main__":
    app()
