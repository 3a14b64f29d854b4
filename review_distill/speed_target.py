"""The students' speed target, checked on the words/s of benchmark.json: a student ships only at
TEACHER_TARGET times the teacher's words/s or more in every language."""
from typing import Dict, List, Sequence

from .models import TEACHER, TOKENIZER

TEACHER_TARGET = 100.0


def speed_ratios(models: Dict, student: str, languages: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Per language, the student's words/s over the teacher's and over the bare tokenizer's."""
    wps = {name: models[name]["words_per_second"] for name in (student, TEACHER, TOKENIZER) if name in models}
    ratios = {}
    for other, key in ((TEACHER, "vs_teacher"), (TOKENIZER, "vs_tokenizer")):
        if student in wps and other in wps:
            ratios[key] = {lang: wps[student][lang] / wps[other][lang] for lang in languages}
    return ratios


def missed_targets(ratios: Dict[str, Dict[str, float]]) -> List[str]:
    """A line for each language where the words/s ratio to the teacher misses its target."""
    return [f"{lang}: {ratio:.3g}x the teacher's words/s, below the target of {TEACHER_TARGET:g}x"
            for lang, ratio in ratios.get("vs_teacher", {}).items() if ratio < TEACHER_TARGET]
