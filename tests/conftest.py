import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data" / "amazon_reviews_multi"


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "ja" / "train.jsonl").is_file():
        pytest.skip(f"the review data is not at {SHARED_DATA}")
    return SHARED_DATA


def write_lines(path: Path, rows) -> Path:
    """Write dicts as JSON lines (or raw strings as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf8")
    return path


def make_reviews(n_per_label: int, prefix: str, start: int = 0):
    """Distinct POS/NEG reviews with ids and labels."""
    return [
        {"id": f"{prefix}{i}", "text": f"{label.lower()} review {prefix}{i}", "label": label}
        for label in ("POS", "NEG")
        for i in range(start, start + n_per_label)
    ]
