"""The names of the models the results steps (evaluate, benchmark, report) score, time and show.

The students `all` trains are a var (`students`): the steps take them from their `--students`
option; the names here are the models every run has, the ablations and the report's order."""
from typing import Optional

TEACHER = "teacher"
BASELINE = "baseline_bow"
# The default student, in summary.json and the report: a copy of the figures of the one chosen.
STUDENT = "student"
# The bare tokenizer of the first student and the word tokenizer of the language, benchmarked beside
# the models.
TOKENIZER = "tokenizer"
WORD_TOKENIZER = "word_tokenizer"
# TF-IDF + logistic regression, trained by `evaluate` on the gold labels and on the teacher's.
TFIDF_LR_GOLD = "tfidf_lr_gold"
TFIDF_LR_DISTILLED = "tfidf_lr_distilled"
PEERS = (TFIDF_LR_GOLD, TFIDF_LR_DISTILLED)
# The spaCy models `all` trains besides the students.
CORE_MODELS = (BASELINE, TEACHER)
# Models of the `ablations` workflow, evaluated and benchmarked where they have been trained.
ABLATIONS = ("baseline_ensemble", "student_dan", "student_ensemble", "student_hard")
# The models summary.json needs scores of, besides the default student.
REQUIRED_MODELS = (BASELINE, TEACHER, *PEERS)
# Table order; any other model in the metrics follows these.
MODEL_ORDER = (BASELINE, "baseline_ensemble", TEACHER, STUDENT, "student_bow", "student_dan",
               "student_ensemble", "student_hard", *PEERS)
NAMES = {
    BASELINE: "baseline BOW",
    "baseline_ensemble": "baseline ensemble",
    TEACHER: "transformer teacher",
    "student_bow": "student BOW",
    "student_dan": "student BOW + DAN",
    "student_ensemble": "student ensemble",
    "student_hard": "student, hard labels",
    TFIDF_LR_GOLD: "TF-IDF + LR, gold labels",
    TFIDF_LR_DISTILLED: "TF-IDF + LR, teacher labels",
    TOKENIZER: "bare tokenizer of the BOW students",
    WORD_TOKENIZER: "word tokenizer of the language",
}


def name_of(model: str, default_student: Optional[str] = None) -> str:
    """A model's name in the report and the plot."""
    name = NAMES.get(model, model)
    return f"{name} (default)" if model == default_student else name
