"""Run a project step and log its wall time and peak memory (`run`), or write the table of the
logged steps (`table`): review_distill/step_times.py."""
from pathlib import Path
from typing import List

import typer
from wasabi import msg

from review_distill.cli import run
from review_distill.files import atomic_path
from review_distill.step_times import run_step, step_table

app = typer.Typer(add_completion=False)


@app.command("run")
def run_command(
    name: str = typer.Argument(..., help="The step's name in project.yml"),
    command: List[str] = typer.Argument(..., help="The step's command, after --"),
    log_path: Path = typer.Option(Path("metrics/steps.jsonl"), "--log", help="The JSON-lines log to append to"),
):
    raise typer.Exit(run_step(name, command, log_path))


@app.command("table")
def table_command(
    log_path: Path = typer.Argument(Path("metrics/steps.jsonl"), help="The log `run` appends to"),
    output: Path = typer.Option(Path("reports/steps.md"), help="Where the Markdown table goes"),
):
    records = step_table(log_path)
    rows = [[r["step"], _minutes(r["seconds"]), f"{r['peak_rss_bytes'] / 2**30:.1f}", r["started"]] for r in records]
    rows.append(["all", _minutes(sum(r["seconds"] for r in records)), f"{max(r['peak_rss_bytes'] for r in records) / 2**30:.1f}", ""])
    header = ["step", "wall (min:s)", "peak RSS (GiB)", "started (UTC)"]
    msg.table(rows, header=header, divider=True)
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    with atomic_path(output) as tmp:
        tmp.write_text(
            f"Each step's latest successful run, from {log_path}: wall time, and peak resident memory of "
            "the step's largest process.\n\n" + "\n".join(lines) + "\n",
            encoding="utf8",
        )
    msg.good(f"Step times: {output}")


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


if __name__ == "__main__":
    run(app)
