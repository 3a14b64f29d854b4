"""`python -m {package} "a review" ...`: each label's probability for each text, and the n-grams that
made the predicted label win over the runner-up (textcat_explain.explain_cli); `python -m {package}
score FILE`: the file's rows with their scores (textcat_score.score_cli). Shipped as the package's
__main__.py."""
import sys

from . import load
from .textcat_explain import explain_cli
from .textcat_score import score_cli

arguments = sys.argv[1:]
if arguments[:1] == ["score"]:
    sys.exit(score_cli(load(), arguments[1:]))
sys.exit(explain_cli(load(), arguments))
