"""`python -m {package} "a review" ...`: each label's probability for each text, and the n-grams that
made the predicted label win over the runner-up (textcat_explain.explain_cli). Shipped as the
package's __main__.py."""
import sys

from . import load
from .textcat_explain import explain_cli

sys.exit(explain_cli(load()))
