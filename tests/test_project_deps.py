"""project.yml: each command lists in its deps every project file its script lines run and
import, so that `spacy project run` reruns it when any of them changes; and the package's
modules import each other without a cycle."""
import ast
import copy
import re
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Set

import pytest
import srsly

from util import ROOT

PACKAGE = "review_distill"
# A project file on a script line: the script it runs, or a module passed to it (--code, --main, ...).
CODE_FILE = re.compile(rf"(?<![\w/.])(?:scripts|{PACKAGE})/[\w/]+\.py\b")
# The wrapper that times a step (`python scripts/step.py run NAME -- COMMAND`): it changes no
# output, so a change to it need not rerun the step.
STEP_TIMER = re.compile(r"python scripts/step\.py run \S+ -- ")


def imported_files(root: Path, path: Path) -> Set[Path]:
    """The project modules that the file imports, at its top or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                package = list(path.relative_to(root).parent.parts)
                package = package[: len(package) - (node.level - 1)]
                module = ".".join(package + ([module] if module else []))
            names.append(module)
            names.extend(f"{module}.{alias.name}" for alias in node.names)
    files = (root / (name.replace(".", "/") + ".py") for name in names if name.split(".")[0] == PACKAGE)
    return {file for file in files if file.is_file()}


def reached_files(root: Path, start: Iterable[Path]) -> Set[Path]:
    """The files and every project module they import, directly or not."""
    reached, todo = set(), list(start)
    while todo:
        path = todo.pop()
        if path not in reached:
            reached.add(path)
            todo.extend(imported_files(root, path))
    return reached


def needed_files(root: Path, command: dict) -> Set[str]:
    """The project files that the command's script lines run or pass, and every module they import."""
    lines = [STEP_TIMER.sub("", line) for line in command.get("script", [])]
    named = {root / match for line in lines for match in CODE_FILE.findall(line)}
    return {path.relative_to(root).as_posix() for path in reached_files(root, named)}


def missing_deps(root: Path, project: dict) -> Dict[str, List[str]]:
    """{command: the project files it runs or imports that its deps lack}, for the commands that lack any."""
    missing = {}
    for command in project["commands"]:
        lacking = sorted(needed_files(root, command) - set(command.get("deps", [])))
        if lacking:
            missing[command["name"]] = lacking
    return missing


def needless_deps(root: Path, project: dict) -> Dict[str, List[str]]:
    """{command: the Python files in its deps that it neither runs nor imports}, for the commands that have any."""
    needless = {}
    for command in project["commands"]:
        extra = [dep for dep in command.get("deps", []) if dep.endswith(".py") and dep not in needed_files(root, command)]
        if extra:
            needless[command["name"]] = extra
    return needless


def import_cycle(root: Path) -> Optional[List[str]]:
    """A cycle of the package's modules importing each other (first module repeated at its end), or None."""
    modules = sorted((root / PACKAGE).glob("*.py"))
    imports = {path: sorted(imported_files(root, path)) for path in modules}
    done, path_ = set(), []

    def visit(module: Path) -> Optional[List[str]]:
        if module in path_:
            cycle = path_[path_.index(module):] + [module]
            return [file.relative_to(root).as_posix() for file in cycle]
        if module in done:
            return None
        path_.append(module)
        for imported in imports[module]:
            cycle = visit(imported)
            if cycle:
                return cycle
        path_.pop()
        done.add(module)
        return None

    for module in modules:
        cycle = visit(module)
        if cycle:
            return cycle
    return None


@pytest.fixture(scope="module")
def project() -> dict:
    return srsly.read_yaml(ROOT / "project.yml")


def test_every_command_lists_the_code_it_runs_in_its_deps(project):
    missing = missing_deps(ROOT, project)
    assert not missing, "project.yml: commands lack deps:\n" + "\n".join(
        f"{name}: {', '.join(files)}" for name, files in missing.items())


def test_no_command_lists_code_it_does_not_run(project):
    """A needless dep reruns the command for nothing; it is often a module that moved."""
    needless = needless_deps(ROOT, project)
    assert not needless, "project.yml: commands list code they do not run:\n" + "\n".join(
        f"{name}: {', '.join(files)}" for name, files in needless.items())


def test_a_removed_dep_is_reported(project):
    """A module that the script imports only through another module, and the script itself."""
    project = copy.deepcopy(project)
    command = next(command for command in project["commands"] if command["name"] == "preprocess")
    command["deps"] = [dep for dep in command["deps"] if dep not in ("review_distill/errors.py", "scripts/preprocess.py")]
    assert missing_deps(ROOT, project) == {"preprocess": ["review_distill/errors.py", "scripts/preprocess.py"]}


def test_a_module_passed_on_the_script_line_counts_with_its_imports(tmp_path):
    for path, text in {"scripts/run.py": "import sys\n",
                       f"{PACKAGE}/plugin.py": "def f():\n    from . import helper\n",
                       f"{PACKAGE}/helper.py": f"from {PACKAGE}.base import X\n",
                       f"{PACKAGE}/base.py": "X = 1\n"}.items():
        (tmp_path / path).parent.mkdir(exist_ok=True)
        (tmp_path / path).write_text(text)
    project = {"commands": [{"name": "step", "script": [f"python scripts/run.py --code {PACKAGE}/plugin.py"],
                             "deps": ["scripts/run.py", f"{PACKAGE}/plugin.py"]}]}
    assert missing_deps(tmp_path, project) == {"step": [f"{PACKAGE}/base.py", f"{PACKAGE}/helper.py"]}
    project["commands"][0]["deps"] += [f"{PACKAGE}/base.py", f"{PACKAGE}/helper.py", f"{PACKAGE}/moved.py"]
    assert missing_deps(tmp_path, project) == {} and needless_deps(tmp_path, project) == {"step": [f"{PACKAGE}/moved.py"]}


def test_the_package_has_no_import_cycle():
    cycle = import_cycle(ROOT)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_an_import_cycle_is_found_also_through_a_function(tmp_path):
    (tmp_path / PACKAGE).mkdir()
    (tmp_path / PACKAGE / "a.py").write_text("def f():\n    from . import b\n")
    (tmp_path / PACKAGE / "b.py").write_text(f"from {PACKAGE}.c import g\n")
    (tmp_path / PACKAGE / "c.py").write_text("from .a import f\n")
    assert import_cycle(tmp_path) == [f"{PACKAGE}/{name}.py" for name in ("a", "b", "c", "a")]


def test_the_package_init_runs_no_code():
    """Importing any module runs review_distill/__init__.py, which the deps leave out: it must hold
    its docstring only."""
    tree = ast.parse((ROOT / PACKAGE / "__init__.py").read_text(encoding="utf8"))
    assert len(tree.body) <= 1 and all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                                       for node in tree.body)
