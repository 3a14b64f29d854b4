"""Stop unless the teacher beats the baseline on dev (`spacy project run teacher-gate`): a CLI over review_distill.gate."""
from pathlib import Path

import typer

from review_distill.cli import run
from review_distill.gate import check_gate


def main(
    teacher_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The teacher's dev metrics"),
    baseline_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The BOW baseline's dev metrics"),
    margin: float = typer.Option(0.02, help="Least mean dev accuracy gain over the baseline (0.02 = 2 points)"),
):
    check_gate(teacher_path, baseline_path, margin=margin)


if __name__ == "__main__":
    run(main)
