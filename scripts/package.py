"""Package each language's student as a wheel (`spacy project run package`): a CLI over review_distill.packaging."""
from pathlib import Path
from typing import List

import typer

from review_distill.cli import run
from review_distill.code_files import code_paths
from review_distill.packaging import package_students


def main(
    training_dir: Path = typer.Argument(..., help="Holds {student}/{lang}/model-best, the trained students"),
    output_dir: Path = typer.Argument(..., help="Packages go to OUTPUT_DIR/{lang}_{name}-{version}"),
    languages: List[str] = typer.Argument(...),
    summary_path: Path = typer.Option(..., "--summary", exists=True, dir_okay=False,
                                      help="The report's summary.json, which names the default student"),
    metrics_dir: Path = typer.Option(Path("metrics"), help="Holds {student}.json and teacher.json, the test "
                                     "scores, and benchmark.json"),
    splits_dir: Path = typer.Option(Path("corpus/splits"), help="Holds task.json, the task the students learned, "
                                    "source.json, where the reviews came from, and {lang}/stats.json"),
    code: str = typer.Option(..., help="The students' component modules, comma-separated, shipped in the package"),
    main_module: Path = typer.Option(..., "--main", exists=True, dir_okay=False,
                                     help="The package's __main__.py: `python -m {package} TEXT` explains a prediction"),
    name: str = typer.Option(..., help="Package name, after the language code (the package_name var)"),
    version: str = typer.Option("0.1.0"),
    teacher: str = typer.Option("", help="What the students were distilled from, for meta.json (empty: "
                                "described from the trained teacher at --teacher-dir)"),
    teacher_dir: Path = typer.Option(Path("training/teacher/model-best"), help="The trained teacher"),
    data_license: str = typer.Option("", help="The licence of a user's file of reviews (empty: not stated)"),
    unlabeled: str = typer.Option("", help="Space-separated languages whose students saw no gold label"),
):
    package_students(
        training_dir, output_dir, languages, summary_path=summary_path, metrics_dir=metrics_dir, splits_dir=splits_dir,
        code=code_paths(code), main_module=main_module, name=name, version=version, teacher=teacher,
        teacher_dir=teacher_dir, data_license=data_license, unlabeled=unlabeled.split(),
    )


if __name__ == "__main__":
    run(main)
