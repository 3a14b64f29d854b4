"""Errors a user can fix. Library code raises them; the command layer (review_distill.cli) prints the
message and exits with status 1."""


class ProjectError(Exception):
    """A problem with a step's input that the user can fix: the message says what to do."""


class DataError(ProjectError, ValueError):
    """Bad input data: the message says which file, line and field."""


class MissingInput(ProjectError, FileNotFoundError):
    """A file an earlier step writes is missing: the message names the step to run."""
