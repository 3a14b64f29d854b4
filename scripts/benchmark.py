"""Words/s, size, load time and memory of every model (`spacy project run benchmark`): a CLI over review_distill.benchmark."""
from pathlib import Path
from typing import List

import typer

import review_distill
from review_distill.benchmark import benchmark
from review_distill.cli import run

HERE = Path(review_distill.__file__).resolve().parent

app = typer.Typer(add_completion=False, help="The `benchmark` step: words/s, size on disk, load time and peak memory "
                  "of the teacher, the students and the baselines, on the same test texts in one run, next to the "
                  "bare tokenizers.")


@app.callback()
def callback():
    """The steps are subcommands (`run`)."""


@app.command("run")
def main(
    languages: List[str] = typer.Argument(...),
    training_dir: Path = typer.Option(Path("training"), help="Holds teacher/model-best and {model}/{lang}/model-best"),
    splits_dir: Path = typer.Option(Path("corpus/splits"), help="Holds {lang}/test.spacy"),
    output: Path = typer.Option(Path("metrics/benchmark.json")),
    students: str = typer.Option(..., help="Space-separated students of `all`; the first one's bare tokenizer is timed"),
    n_docs: int = typer.Option(1000, min=1, help="Test texts per language (the first N)"),
    teacher_n_docs: int = typer.Option(250, min=1, help="Of those, the teacher's (the first N)"),
    batch_size: int = typer.Option(128, min=1, help="nlp.pipe batch size of the spaCy students and baselines"),
    teacher_batch_size: int = typer.Option(64, min=1, help="nlp.pipe batch size of the teacher"),
    repeats: int = typer.Option(5, min=1, help="Timed passes per language at least (students, tokenizer)"),
    teacher_repeats: int = typer.Option(1, min=1, help="Timed passes per language at least (teacher)"),
    warmup: int = typer.Option(100, min=0, help="Texts of the warm-up pass"),
    min_seconds: float = typer.Option(3.0, min=0.0, help="Time more passes until this many seconds have been timed"),
    teacher_code: Path = typer.Option(HERE / "teacher_functions.py", help="The teacher's registered functions"),
    student_code: Path = typer.Option(HERE / "textcat_distill.py", help="The students' component"),
    unlabeled: str = typer.Option("", help="Space-separated languages left out: they have no baseline, and their "
                                  "students are the models of their language that the others' are"),
):
    """Benchmark the teacher, the students and baselines and the bare tokenizers; write OUTPUT."""
    benchmark(languages, training_dir, splits_dir, output, students.split(), n_docs=n_docs,
              teacher_n_docs=teacher_n_docs, batch_size=batch_size,
              teacher_batch_size=teacher_batch_size, repeats=repeats, teacher_repeats=teacher_repeats, warmup=warmup,
              min_seconds=min_seconds, teacher_code=teacher_code, student_code=student_code,
              unlabeled=unlabeled.split())


if __name__ == "__main__":
    run(app)
