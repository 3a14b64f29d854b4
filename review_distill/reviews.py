"""Reading, validating and writing review data: the helpers the project's scripts share."""
import csv
import io
import json
import re
import unicodedata
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import spacy
from spacy.language import Language
from spacy.util import get_lang_class

from .errors import DataError
from .tasks import LABEL_SCHEMES, check_polarity_values, to_label
from .textcat_tokenizers import LONE_SURROGATE

# Tokenizers that differ from the language's default: spaCy's Chinese tokenizer
# splits into characters unless told to segment words.
TOKENIZERS = {"zh": {"@tokenizers": "spacy.zh.ChineseTokenizer", "segmenter": "jieba"}}
# The students' character tokenizer, registered by textcat_tokenizers.
CHAR_TOKENIZER = {"@tokenizers": "review_distill.char_tokenizer.v1"}
# A per-language value of a var, "lang=value" (data_source, data_file, transfer_texts).
LANG_VALUE = re.compile(r"^([a-z]{2,3})=(.+)$")


def check_lang(lang: str) -> None:
    """Raise DataError unless spaCy has a language class (and tokenizer) for `lang`."""
    try:
        spacy.util.get_lang_class(lang)
    except ImportError:
        raise DataError(
            f"Unknown language code '{lang}': spaCy has no tokenizer for it. "
            "Use an ISO code spaCy supports, e.g. en, de, es, fr, ja, zh "
            "(https://spacy.io/usage/models#languages)."
        ) from None


def check_unlabeled(languages: Sequence[str], unlabeled: Sequence[str]) -> None:
    """Raise DataError unless every unlabeled language is one of `languages` and one language at least
    keeps its labels: the teacher learns from the labelled languages alone."""
    strays = [lang for lang in unlabeled if lang not in languages]
    if strays:
        raise DataError(f"unlabeled_languages names {' '.join(strays)}, which languages does not: "
                        f"add {'them' if len(strays) > 1 else 'it'} to languages")
    if set(languages) <= set(unlabeled):
        raise DataError(f"Every language is unlabeled ({' '.join(languages)}): the teacher learns from the gold "
                        "labels of the other languages, so there would be nothing to train it on. Add a labelled "
                        "language to languages, or take one out of unlabeled_languages.")


def tokenizer_overrides(lang: str, chars: bool = False, wrapped: bool = False) -> Dict[str, object]:
    """Config overrides that give `lang` its proper tokenizer (word segmentation for zh), or
    with `chars` the character tokenizer; with `wrapped`, inside the config's tokenizer, a
    wrapper such as review_distill.encodable_tokenizer.v1."""
    tokenizer = CHAR_TOKENIZER if chars else TOKENIZERS.get(lang)
    if wrapped:
        return {"nlp.tokenizer.tokenizer": tokenizer or get_lang_class(lang).default_config["nlp"]["tokenizer"]}
    return {"nlp.tokenizer": tokenizer} if tokenizer else {}


def make_nlp(lang: str) -> Language:
    """A blank pipeline with the language's proper tokenizer."""
    check_lang(lang)
    config = {"nlp": {"tokenizer": TOKENIZERS[lang]}} if lang in TOKENIZERS else {}
    return spacy.blank(lang, config=config)


def normalize_text(text: str) -> str:
    """The key two texts are duplicates under: NFKC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _rows(path: Path) -> Iterator[tuple]:
    """(line number, row dict) for each record of a JSONL or CSV file."""
    lines = _decoded_lines(path)
    if path.suffix == ".csv":
        reader = csv.DictReader(io.StringIO("".join(lines), newline=""))
        for row in reader:
            if None in row or None in row.values():
                raise DataError(
                    f"{path}:{reader.line_num}: malformed CSV row: expected "
                    f"{len(reader.fieldnames)} columns ({', '.join(reader.fieldnames)})"
                )
            yield reader.line_num, row
        return
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}:{line_no}: malformed JSON: {err.msg}") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{line_no}: expected a JSON object, got {type(row).__name__}")
        yield line_no, row


def _decoded_lines(path: Path) -> List[str]:
    """The file's lines (with their line ends) decoded as UTF-8 (a byte order mark dropped);
    a DataError names the first line and column that are not valid UTF-8."""
    lines = []
    with path.open("rb") as file_:
        for line_no, line in enumerate(file_, start=1):
            try:
                lines.append(line.decode("utf-8-sig" if line_no == 1 else "utf8"))
            except UnicodeDecodeError as err:
                column = len(line[: err.start].decode("utf8", errors="replace")) + 1
                raise DataError(
                    f"{path}:{line_no}: not valid UTF-8 (byte 0x{line[err.start]:02x} at column {column}); "
                    "save the file as UTF-8"
                ) from None
    return lines


def lone_surrogate_column(text: str) -> Optional[int]:
    """RETURNS (Optional[int]): The 1-based column of the first lone surrogate in text (half of
    a character, e.g. of an emoji cut in two, that UTF-8 cannot encode), or None."""
    match = LONE_SURROGATE.search(text)
    return match.start() + 1 if match else None


def read_reviews(
    path: Path, *, text_field: str = "text", label_field: str = "label", label_scheme: str = "stars0",
    task: str = "binary", require_labels: bool = True,
) -> List[Dict[str, str]]:
    """Read a JSONL or CSV file of reviews as dicts with id, text and, where the record has one, the
    task's label (tasks.to_label). A record whose label is missing or empty is an unlabelled review;
    with `require_labels`, the file must have one labelled review at least."""
    path = Path(path)
    if label_scheme not in LABEL_SCHEMES:
        raise DataError(f"Unknown label scheme '{label_scheme}': use one of {', '.join(LABEL_SCHEMES)}")
    if path.suffix not in (".jsonl", ".csv"):
        raise DataError(f"{path}: unsupported file type '{path.suffix}': use .jsonl or .csv")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    reviews, raw_labels = [], set()
    for line_no, row in _rows(path):
        if text_field not in row:
            raise DataError(f"{path}:{line_no}: missing field '{text_field}'")
        text = row[text_field]
        if not isinstance(text, str) or not text.strip():
            raise DataError(f"{path}:{line_no}: empty text in field '{text_field}'")
        for field, value in ((text_field, text), ("id", row.get("id"))):
            column = lone_surrogate_column(value) if isinstance(value, str) else None
            if column is not None:
                raise DataError(
                    f"{path}:{line_no}: the {field} field holds a lone surrogate ({value[column - 1]!r} at "
                    f"column {column}), half of a character (e.g. an emoji cut in two) that UTF-8 cannot encode"
                )
        review_id = str(row.get("id") or f"{path.stem}_{line_no}")
        reviews.append({"id": review_id, "text": text.strip()})
        try:
            label = to_label(row.get(label_field), task, label_scheme)
        except ValueError as err:
            raise DataError(f"{path}:{line_no}: {err}") from None
        if label is not None:
            reviews[-1]["label"] = label
            raw_labels.add(row[label_field])
    if not reviews:
        raise DataError(f"{path}: no reviews in file")
    try:
        check_polarity_values(raw_labels, task, label_scheme)
    except ValueError as err:
        raise DataError(f"{path}: {err}") from None
    if require_labels and not raw_labels:
        raise DataError(f"{path}: no review has a label in field '{label_field}'; a file without labels is for "
                        "a language of unlabeled_languages only")
    return reviews


def read_texts(path: Path, text_field: str = "text") -> Tuple[List[Dict[str, str]], int, int]:
    """The texts of a file without labels, as dicts with id and text: a text a line (.txt), or the
    text_field of each JSONL or CSV record; and how many empty texts (left out) and repeated ones (read
    once) it had."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if path.suffix == ".txt":
        rows = ((line_no, {text_field: line}) for line_no, line in enumerate(_decoded_lines(path), start=1))
    elif path.suffix in (".jsonl", ".csv"):
        rows = _rows(path)
    else:
        raise DataError(f"{path}: unsupported file type '{path.suffix}': use .txt (a text a line), .jsonl or .csv")
    texts: Dict[str, int] = {}
    n_empty = n_repeated = 0
    for line_no, row in rows:
        if text_field not in row:
            raise DataError(f"{path}:{line_no}: missing field '{text_field}'")
        text = row[text_field]
        if not isinstance(text, str):
            raise DataError(f"{path}:{line_no}: the field '{text_field}' holds {type(text).__name__}, not text")
        column = lone_surrogate_column(text)
        if column is not None:
            raise DataError(f"{path}:{line_no}: a lone surrogate ({text[column - 1]!r} at column {column}), half of a "
                            "character (e.g. an emoji cut in two) that UTF-8 cannot encode")
        if not text.strip():
            n_empty += 1
        elif text.strip() in texts:
            n_repeated += 1
        else:
            texts[text.strip()] = line_no
    if not texts:
        raise DataError(f"{path}: no texts")
    return [{"id": f"{path.stem}_{line_no}", "text": text} for text, line_no in texts.items()], n_empty, n_repeated


def read_jsonl(path: Path) -> List[dict]:
    return [row for _, row in _rows(Path(path))]
