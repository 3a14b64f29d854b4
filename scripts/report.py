"""Write the summary, the report and its plot (`spacy project run report`): a CLI over review_distill.report."""
import json
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from review_distill.cli import run
from review_distill.report import PLOT_NAME, write_report
from review_distill.summary import AUTO


def main(
    evaluation_path: Path = typer.Argument(Path("metrics/evaluation.json")),
    benchmark_path: Path = typer.Argument(Path("metrics/benchmark.json")),
    student: str = typer.Option(AUTO, help="The default student (the one `package` ships), or auto: choose_student"),
    students: str = typer.Option(..., help="Space-separated candidates for the default student"),
    dev_metrics_dir: Path = typer.Option(Path("metrics/dev"), help="Holds the candidates' {student}.json dev scores"),
    labelling_path: Optional[Path] = typer.Option(None, "--labelling", help="The label step's report"),
    out_of_domain_path: Optional[Path] = typer.Option(None, "--out-of-domain", help="The out-of-domain step's scores"),
    summary_path: Path = typer.Option(Path("metrics/summary.json"), "--summary"),
    output_dir: Path = typer.Option(Path("reports"), help="Where report.md and the plot go"),
    reference_metrics: str = typer.Option("", help="The metrics directory of a run that trained the unlabeled "
                                          "languages on their gold labels, to compare their students with"),
):
    report_path = write_report(evaluation_path, benchmark_path, student=student, summary_path=summary_path,
                               output_dir=output_dir, candidates=students.split(), dev_metrics_dir=dev_metrics_dir,
                               labelling_path=labelling_path, out_of_domain_path=out_of_domain_path,
                               reference_dir=Path(reference_metrics) if reference_metrics else None)
    msg.good(f"Default student: {json.loads(summary_path.read_text())['default_student']}")
    msg.good(f"Summary in {summary_path}; plot in {output_dir / PLOT_NAME}")
    msg.good(f"Report: {report_path.resolve()}")


if __name__ == "__main__":
    run(main)
