"""Writing files atomically, so that a crash never leaves a half-written output; the size of a directory."""
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write a file or directory to; move it into
    place, replacing `path`, only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    _remove(tmp)  # left by an interrupted run
    try:
        yield tmp
        if tmp.is_dir():
            _remove(path)  # os.replace cannot replace a non-empty directory
        os.replace(tmp, path)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def write_json(path: Path, data) -> None:
    """Write `data` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf8")


def write_jsonl(path: Path, records: Iterable[dict]) -> None:
    """Write records as JSON lines, atomically."""
    with atomic_path(path) as tmp:
        with tmp.open("w", encoding="utf8") as file_:
            for record in records:
                file_.write(json.dumps(record, ensure_ascii=False) + "\n")


def dir_size(path: Path) -> int:
    """Bytes of the files under a directory."""
    return sum(file.stat().st_size for file in Path(path).rglob("*") if file.is_file() and not file.is_symlink())
