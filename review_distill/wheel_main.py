"""`python -m {package} "a review" ...`: the packaged pipeline's prediction for each text and the
n-grams that made it (textcat_explain.explain_cli). Shipped as the package's __main__.py."""
import sys

from . import load
from .textcat_explain import explain_cli

sys.exit(explain_cli(load()))
