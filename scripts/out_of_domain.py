"""Score every model on opinion texts from outside product reviews (`spacy project run out-of-domain`): a CLI
over review_distill.out_of_domain."""
from pathlib import Path

import typer

from review_distill.cli import run
from review_distill.out_of_domain import SETS, out_of_domain

HERE = Path(__file__).parent.parent / "review_distill"


def main(
    sets: str = typer.Argument(..., help=f"Space-separated sets of {', '.join(SETS)} (empty: none)"),
    output: Path = typer.Option(Path("metrics/out_of_domain.json")),
    evaluation: Path = typer.Option(Path("metrics/evaluation.json"), help="The run's languages (`evaluate`)"),
    cache_dir: Path = typer.Option(Path("assets/out_of_domain"), help="Where the sets' archives are kept"),
    n_per_label: int = typer.Option(500, min=1, help="Texts per label and set at most (a seeded sample)"),
    training_dir: Path = typer.Option(Path("training"), help="Holds teacher/model-best and {model}/{lang}/model-best"),
    splits_dir: Path = typer.Option(Path("corpus/splits"), help="Holds task.json and {lang}/train.spacy (gold)"),
    hard_dir: Path = typer.Option(Path("corpus/hard"), help="Holds {lang}/train.spacy (the teacher's argmax labels)"),
    students: str = typer.Option(..., help="Space-separated students trained by `all`, e.g. 'student_bow'"),
    teacher_code: Path = typer.Option(HERE / "teacher_functions.py", help="The teacher's registered functions"),
    batch_size: int = typer.Option(64, min=1, help="nlp.pipe batch size"),
    seed: int = typer.Option(0, help="The TF-IDF + LR peers' seed"),
):
    out_of_domain(sets.split(), output, evaluation, cache_dir=cache_dir, n_per_label=n_per_label,
                  training_dir=training_dir, splits_dir=splits_dir, hard_dir=hard_dir, students=students.split(),
                  teacher_code=teacher_code, batch_size=batch_size, seed=seed)


if __name__ == "__main__":
    run(main)
