"""What a run records of its inputs for the packages to describe them: where each language's reviews
came from (the data step's source.json, which preprocess copies beside task.json) and which encoder
the teacher-encoder step built (encoder.json in its model directory)."""
import json
from pathlib import Path
from typing import Dict

import srsly

from .errors import MissingInput
from .files import write_json

SOURCE_FILE = "source.json"
# The sources (data_source, auto resolved) that read MARC: a local copy of it or its mirror.
MARC_SOURCES = ("local", "mirror")
# Not part of the model: the teacher's training fingerprint leaves it out.
ENCODER_RECORD = "encoder.json"


def write_sources(path: Path, sources: Dict[str, Dict]) -> None:
    """Write {lang: {"source": local, mirror or file, "file": the file's name (file only), "labelled": n,
    "unlabelled": n}}."""
    write_json(path, sources)


def read_sources(path: Path, step: str = "preprocess") -> Dict[str, Dict]:
    """The sources that `step` wrote (data: assets/reviews/source.json, preprocess: corpus/splits/source.json)."""
    path = Path(path)
    if not path.is_file():
        raise MissingInput(f"Missing file {path}: run `spacy project run {step}` first")
    return srsly.read_json(path)


def write_encoder_record(model_dir: Path, description: str) -> None:
    """Say what the encoder in model_dir is."""
    (model_dir / ENCODER_RECORD).write_text(json.dumps({"description": description}) + "\n", encoding="utf8")


def encoder_description(transformer: str) -> str:
    """What the transformer (a Hugging Face name or directory) is: a directory's recorded description,
    else its name as given."""
    record = Path(transformer) / ENCODER_RECORD
    if record.is_file():
        return json.loads(record.read_text(encoding="utf8"))["description"]
    return transformer
