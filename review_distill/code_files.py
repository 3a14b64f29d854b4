"""The Python files of registered functions that a step imports (`--code`), as spaCy's commands
take them: a comma-separated list of files."""
import importlib
from pathlib import Path
from typing import List, Optional

from spacy.cli._util import import_code

from .errors import MissingInput


def code_paths(code: Optional[str]) -> List[Path]:
    """RETURNS (List[Path]): The files of a comma-separated --code option (none for None or "")."""
    paths = [Path(path.strip()) for path in (code or "").split(",") if path.strip()]
    for path in paths:
        if not path.is_file():
            raise MissingInput(f"Missing --code file {path}")
    return paths


def import_code_paths(paths: List[Path]) -> None:
    """Import each file: a module of this package (review_distill/*.py, in this project or a copy
    of it) by its name, e.g. review_distill.textcat_distill, as the step's own code is imported, so
    that its relative imports hold; any other file as spaCy's import_code does."""
    for path in paths:
        if path.suffix == ".py" and path.parent.name == __package__ and (path.parent / "__init__.py").is_file():
            importlib.import_module(f"{__package__}.{path.stem}")
        else:
            import_code(path)
