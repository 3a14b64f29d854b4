"""What a package says it learned from, derived from what the run did: the sources of its reviews and
of the teacher's (records.read_sources), their licence terms, and the teacher (records.encoder_description).
The method: docs/method.md, "Licence"."""
from pathlib import Path
from typing import Dict, List

from spacy.util import load_config

from .errors import DataError, MissingInput
from .records import MARC_SOURCES, encoder_description
from .tasks import Task

MARC_LICENSE = "No licence set; non-commercial research use only (see data_caveat)"
FILE_LICENSE = "No licence set; the training data's licence is its owner's and was not stated (see data_caveat)"
MARC_LICENSE_URL = "https://docs.opendata.aws/amazon-reviews-ml/license.txt"
MARC_SOURCE = {
    "name": "Multilingual Amazon Reviews Corpus (MARC)",
    "url": "https://registry.opendata.aws/amazon-reviews-ml/",
    "author": "Keung et al., 2020",
    "license": f"Amazon's MARC licence, academic research only ({MARC_LICENSE_URL})",
}
MARC_TERMS = (
    "Trained on product reviews from the Multilingual Amazon Reviews Corpus (MARC). Amazon "
    "grants a limited, non-exclusive, non-transferable, non-sublicensable, revocable licence to "
    "use MARC for academic research only: the corpus and its contents may not be resold, "
    "republished or used commercially (commercial research included), and its content may not "
    "be linked to personal information or used to identify the reviews' authors "
    f"({MARC_LICENSE_URL})."
)
NO_REVIEW_TEXT = (
    "This package holds no review text: the classifier's weights are indexed by hashes of n-grams, "
    "and the words of the training texts were removed from its string store."
)
MARC_USE = ("Whether the licence's terms extend to weights learned from the corpus is not settled; use this "
            "pipeline for non-commercial research only.")
MARC_DOMAIN = "product reviews from Amazon's marketplaces, as in MARC"


def learned_from(sources: Dict[str, Dict], lang: str, teacher_languages: List[str]) -> List[Dict]:
    """The sources (records.read_sources) a language's student learned from: its own reviews' and, through the
    teacher, those of the languages the teacher learned from; MARC once, each file once."""
    learned = {}
    for other in [lang, *teacher_languages]:
        source = sources[other]
        learned.setdefault("MARC" if source["source"] in MARC_SOURCES else source["file"], source)
    return list(learned.values())


def data_terms(learned: List[Dict], data_license: str) -> Dict:
    """meta.json's license, sources and data_caveat for the data learned from (learned_from): MARC's terms
    where it read MARC; a file's licence is data_license, or its owner's, not stated."""
    marc = any(source["source"] in MARC_SOURCES for source in learned)
    files = [source["file"] for source in learned if source["source"] == "file"]
    caveat = [MARC_TERMS] if marc else []
    if files:
        stated = f": {data_license}" if data_license else ", which was not stated"
        caveat.append(f"The reviews of {_both(files)} it learned from are under their owner's licence{stated}; use "
                      "this pipeline only as that licence allows.")
    caveat += [NO_REVIEW_TEXT, *([MARC_USE] if marc else [])]
    return {
        "license": MARC_LICENSE if marc else data_license or FILE_LICENSE,
        "sources": [*([MARC_SOURCE] if marc else []),
                    *({"name": name, "license": data_license or "its owner's, not stated"} for name in files)],
        "data_caveat": " ".join(caveat),
    }


def describe_source(source: Dict) -> str:
    """Where a language's reviews came from, in words."""
    if source["source"] == "file":
        return f"the file {source['file']}"
    return f"{MARC_SOURCE['name']}, {'a local copy' if source['source'] == 'local' else 'downloaded from its mirror'}"


def source_lines(sources: Dict[str, Dict], lang: str, teacher_languages: List[str]) -> List[str]:
    """The card's lines on the data: the language's reviews, then those the teacher learned from."""
    own = sources[lang]
    lines = [f"Reviews: {describe_source(own)} ({own['labelled']:,} labelled and {own['unlabelled']:,} unlabelled "
             "reviews read)."]
    by_source: Dict[str, List[str]] = {}
    for other in teacher_languages:
        by_source.setdefault(describe_source(sources[other]), []).append(other)
    lines += [f"The teacher learned from the gold reviews of {', '.join(others)}: {described}."
              for described, others in by_source.items()]
    return lines


def derived_teacher(teacher_dir: Path, teacher_languages: List[str], task: Task) -> str:
    """What the trained teacher at teacher_dir is: its transformer (records.encoder_description), fine-tuned on
    the teacher languages' gold train sets for the task."""
    config_path = teacher_dir / "config.cfg"
    if not config_path.is_file():
        raise MissingInput(f"Missing {config_path}: run `spacy project run teacher-train` first, or describe the "
                           "teacher in the var teacher_description")
    try:
        transformer = load_config(config_path, interpolate=True)["components"]["transformer"]["model"]["name"]
    except KeyError:
        raise DataError(f"{config_path} has no transformer name ([components.transformer.model] name): describe the "
                        "teacher in the var teacher_description") from None
    return (f"{encoder_description(transformer)}, fine-tuned with spacy-transformers on the gold train sets of "
            f"{', '.join(teacher_languages)} for the {task.name} task")


def _both(names: List[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
