"""Print test accuracy per model and language from the metrics files written so far."""
import json
from pathlib import Path

import typer
from wasabi import msg


def main(metrics_dir: Path = typer.Argument(Path("metrics"))):
    files = sorted(metrics_dir.glob("*.json"))
    if not files:
        msg.fail(f"No metrics in {metrics_dir}: run `spacy project run all` first", exits=1)
    tables = {path.stem: json.loads(path.read_text(encoding="utf8")) for path in files}
    languages = sorted({lang for table in tables.values() for lang in table if lang != "mean"})
    columns = languages + ["mean"]
    rows = [
        [model] + [f"{table[col]['accuracy']:.3f}" if col in table else "-" for col in columns]
        for model, table in tables.items()
    ]
    msg.table(rows, header=["test accuracy"] + columns, divider=True)
    msg.info(f"Metrics (accuracy, macro-F1) per model are in {metrics_dir.resolve()}/")


if __name__ == "__main__":
    typer.run(main)
