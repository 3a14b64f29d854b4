"""A package's `score` command against nlp.pipe in a loop (`spacy project run benchmark-scoring`): a CLI over
review_distill.scoring_benchmark."""
from pathlib import Path

import typer

from review_distill.cli import run
from review_distill.scoring_benchmark import benchmark_scoring


def main(
    package_dir: Path = typer.Argument(..., help="The built package, packages/{lang}_{name}-{version}"),
    pool_path: Path = typer.Argument(..., help="The language's pool.jsonl, whose texts make the rows"),
    output: Path = typer.Option(Path("metrics/scoring_benchmark.json")),
    sizes: str = typer.Option("10000 100000 1000000", help="Space-separated numbers of rows, a file each"),
):
    """Rows/s and peak memory of `python -m {package} score` and of nlp.pipe in a loop, on files of SIZES rows."""
    benchmark_scoring(package_dir, pool_path, output, [int(size) for size in sizes.split()])


if __name__ == "__main__":
    run(main)
