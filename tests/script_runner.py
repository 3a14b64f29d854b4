"""Run a command-line script of scripts/ in this process, as `python scripts/NAME.py ARGS` would."""
import contextlib
import io
import runpy
import sys
from typing import Tuple
from unittest import mock

from conftest import ROOT


def invoke_script(name: str, *args) -> Tuple[int, str]:
    """Run scripts/{name}.py with the arguments; return its exit code and its output (stdout and stderr)
    with line wrapping undone."""
    path = ROOT / "scripts" / f"{name}.py"
    output = io.StringIO()
    with mock.patch.object(sys, "argv", [str(path), *map(str, args)]), \
            contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            runpy.run_path(str(path), run_name="__main__")
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return code, " ".join(output.getvalue().split())
