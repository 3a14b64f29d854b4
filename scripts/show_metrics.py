"""Print test accuracy per model and language from the metrics files written so far, and
where the report is once it is written."""
import json
from pathlib import Path

import typer
from wasabi import msg

from review_distill.cli import run
from review_distill.errors import MissingInput


def main(
    metrics_dir: Path = typer.Argument(Path("metrics")),
    report_path: Path = typer.Option(Path("reports/report.md"), help="The report, once `report` has run"),
):
    files = {path.stem: json.loads(path.read_text(encoding="utf8")) for path in sorted(metrics_dir.glob("*.json"))}
    # A model's scores: {lang: {...}, "mean": {"accuracy": ...}}; the summaries have other shapes.
    tables = {name: table for name, table in files.items() if "accuracy" in table.get("mean", {})}
    if not tables:
        raise MissingInput(f"No metrics in {metrics_dir}: run `spacy project run all` first")
    languages = sorted({lang for table in tables.values() for lang in table if lang != "mean"})
    columns = languages + ["mean"]
    rows = [
        [model] + [f"{table[col]['accuracy']:.3f}" if col in table else "-" for col in columns]
        for model, table in tables.items()
    ]
    msg.table(rows, header=["test accuracy"] + columns, divider=True)
    msg.info(f"Metrics (accuracy, macro-F1) per model are in {metrics_dir.resolve()}/")
    if report_path.is_file():
        msg.good(f"The report, with speed and size: {report_path.resolve()}")


if __name__ == "__main__":
    run(main)
