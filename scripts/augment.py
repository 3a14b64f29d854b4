"""Write synthetic variants of the training reviews (`spacy project run augment`): a CLI over review_distill.augment."""
from pathlib import Path
from typing import List

import typer

from review_distill.augment import Settings, augment_languages
from review_distill.cli import run


def main(
    languages: List[str] = typer.Argument(..., help="Language codes"),
    corpus_dir: Path = typer.Option(Path("corpus/splits"), help="{lang}/train.spacy and pool.jsonl from the preprocess step"),
    output_dir: Path = typer.Option(Path("corpus/augmented"), help="Where to write {lang}.jsonl"),
    teacher_model: Path = typer.Option(Path("assets/teacher_model"), help="The teacher's model dir (its mask token)"),
    p_mask: float = typer.Option(0.1, help="Probability of masking a word"),
    p_pos: float = typer.Option(0.1, help="Probability of replacing a word by another of its kind"),
    p_ng: float = typer.Option(0.25, help="Probability of keeping only an n-gram (n = 1-5)"),
    p_sent: float = typer.Option(0.25, help="Probability of keeping only some sentences"),
    n_iter: int = typer.Option(20, help="Variants drawn per review"),
    seed: int = typer.Option(0),
    tagger_models: str = typer.Option("", help="Installed spaCy pipelines with a tagger, e.g. 'de=de_core_news_sm'"),
    unlabeled: str = typer.Option("", help="Space-separated languages without gold train sets: their pool_train.jsonl "
                                  "reviews are varied instead"),
):
    settings = Settings(p_mask=p_mask, p_pos=p_pos, p_ng=p_ng, p_sent=p_sent, n_iter=n_iter)
    augment_languages(languages, corpus_dir=corpus_dir, output_dir=output_dir, teacher_model=teacher_model,
                      settings=settings, seed=seed, tagger_models=tagger_models, unlabeled=unlabeled.split())


if __name__ == "__main__":
    run(main)
