"""The command layer's one rule: a ProjectError becomes its message and exit status 1."""
from typing import Callable, Union

import typer
from wasabi import msg

from .errors import ProjectError


def run(command: Union[Callable, typer.Typer]) -> None:
    """Run a typer app, or a function as a one-command app (as typer.run does); a ProjectError
    prints its message and exits with status 1."""
    if not isinstance(command, typer.Typer):
        app = typer.Typer(add_completion=False)
        app.command()(command)
        command = app
    try:
        command()
    except ProjectError as err:
        msg.fail(str(err), exits=1)
