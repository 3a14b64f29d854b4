"""The probabilities a model gave each review of a gold DocBin, kept beside the model, so that a later
step reads them instead of running the model again. Each file names the DocBin and its SHA-256: read
against another DocBin, it raises."""
import hashlib
import json
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from spacy.language import Language
from tqdm import tqdm

from .errors import MissingInput
from .files import write_json


def cats_shortest_first(nlp: Language, texts: Sequence[str], batch_size: int,
                        progress: Optional[tqdm] = None) -> List[Dict[str, float]]:
    """`nlp`'s doc.cats for each text, in order; the texts go through it shortest first, so that each
    batch holds texts of similar length (a transformer pads a batch to its longest text)."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    found: List[Dict[str, float]] = [{}] * len(texts)
    for i, doc in zip(order, nlp.pipe((texts[i] for i in order), batch_size=batch_size)):
        found[i] = dict(doc.cats)
        if progress is not None:
            progress.update(1)
    return found


def test_predictions_dir(model_dir: Path) -> Path:
    """Where a model's probabilities for each language's test reviews go ({lang}.json)."""
    return Path(model_dir) / "predictions" / "test"


def docbin_digest(docbin_path: Path) -> str:
    return hashlib.sha256(Path(docbin_path).read_bytes()).hexdigest()


def write_predictions(path: Path, docbin_path: Path, cats: List[Dict[str, float]]) -> None:
    """Write each review's probabilities, in the DocBin's order."""
    write_json(path, {"docbin": str(docbin_path), "sha256": docbin_digest(docbin_path), "cats": cats})


def read_predictions(path: Path, docbin_path: Path, step: str) -> List[Dict[str, float]]:
    """The probabilities written for docbin_path; `step` is the project command that writes them."""
    if not path.is_file():
        raise MissingInput(f"Missing {path}: run `spacy project run {step}` first")
    record = json.loads(path.read_text(encoding="utf8"))
    if record["sha256"] != docbin_digest(docbin_path):
        raise MissingInput(f"{path} holds predictions for another version of {docbin_path}: "
                           f"run `spacy project run {step}` again")
    return record["cats"]
