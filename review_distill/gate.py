"""Stop the workflow unless the teacher beats the BOW baseline on dev by a margin.

A student can at best approach its teacher; a teacher no better than the baseline has nothing
to pass on, so distilling it would cost hours of labelling for no gain.
"""
import json
from pathlib import Path
from typing import Dict, List, Tuple

import typer
from wasabi import msg


def dev_margins(teacher: Dict, baseline: Dict) -> Tuple[Dict[str, float], float]:
    """Teacher minus baseline dev accuracy per language, and its mean over the teacher's languages."""
    languages = [lang for lang in teacher if lang != "mean"]
    missing = [lang for lang in languages if lang not in baseline]
    if missing:
        raise ValueError(f"the baseline has no dev scores for {', '.join(missing)}")
    margins = {lang: teacher[lang]["accuracy"] - baseline[lang]["accuracy"] for lang in languages}
    return margins, sum(margins.values()) / len(margins)


def main(
    teacher_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The teacher's dev metrics"),
    baseline_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="The BOW baseline's dev metrics"),
    margin: float = typer.Option(0.02, help="Least mean dev accuracy gain over the baseline (0.02 = 2 points)"),
):
    teacher = json.loads(teacher_path.read_text(encoding="utf8"))
    baseline = json.loads(baseline_path.read_text(encoding="utf8"))
    try:
        margins, mean_margin = dev_margins(teacher, baseline)
    except ValueError as err:
        msg.fail(str(err), exits=1)
    rows: List[List[str]] = [
        [lang, f"{baseline[lang]['accuracy']:.3f}", f"{teacher[lang]['accuracy']:.3f}", f"{gain:+.3f}"]
        for lang, gain in margins.items()
    ]
    msg.table(rows, header=["dev accuracy", "baseline BOW", "teacher", "gain"], divider=True)
    if mean_margin < margin:
        msg.fail(
            f"The teacher beats the baseline by {mean_margin * 100:.1f} points on mean dev accuracy, less than "
            f"the required {margin * 100:.1f}. A student learns at best what its teacher knows, so distilling "
            "this teacher would not beat the baseline: stopping here. Improve the teacher (configs/teacher.cfg, "
            "var teacher_model) or lower the var gate_margin.",
            exits=1,
        )
    msg.good(f"The teacher beats the baseline by {mean_margin * 100:.1f} points on mean dev accuracy: worth distilling")
