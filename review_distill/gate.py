"""Stop the workflow unless the teacher beats the BOW baseline on dev by a margin.

A student can at best approach its teacher; a teacher no better than the baseline has nothing
to pass on, so distilling it would cost the labelling for no gain.
"""
import json
from pathlib import Path
from typing import Dict, List, Tuple

from wasabi import msg

from .errors import DataError, ProjectError


def dev_margins(teacher: Dict, baseline: Dict) -> Tuple[Dict[str, float], float]:
    """Teacher minus baseline dev accuracy per language, and its mean over the teacher's languages."""
    languages = [lang for lang in teacher if lang != "mean"]
    missing = [lang for lang in languages if lang not in baseline]
    if missing:
        raise DataError(f"the baseline has no dev scores for {', '.join(missing)}")
    margins = {lang: teacher[lang]["accuracy"] - baseline[lang]["accuracy"] for lang in languages}
    return margins, sum(margins.values()) / len(margins)


def check_gate(teacher_path: Path, baseline_path: Path, *, margin: float) -> None:
    """Print the dev margins; raise ProjectError unless the mean is at least `margin`."""
    teacher = json.loads(teacher_path.read_text(encoding="utf8"))
    baseline = json.loads(baseline_path.read_text(encoding="utf8"))
    margins, mean_margin = dev_margins(teacher, baseline)
    rows: List[List[str]] = [
        [lang, f"{baseline[lang]['accuracy']:.3f}", f"{teacher[lang]['accuracy']:.3f}", f"{gain:+.3f}"]
        for lang, gain in margins.items()
    ]
    msg.table(rows, header=["dev accuracy", "baseline BOW", "teacher", "gain"], divider=True)
    if mean_margin < margin:
        raise ProjectError(
            f"The teacher beats the baseline by {mean_margin * 100:.1f} points on mean dev accuracy, less than "
            f"the required {margin * 100:.1f}. A student learns at best what its teacher knows, so distilling "
            "this teacher would not beat the baseline: stopping here. Improve the teacher (configs/teacher.cfg, "
            "var teacher_model) or lower the var gate_margin."
        )
    msg.good(f"The teacher beats the baseline by {mean_margin * 100:.1f} points on mean dev accuracy: worth distilling")
