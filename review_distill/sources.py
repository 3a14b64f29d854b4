"""Collect labelled reviews per language, validate them and write them as POS/NEG JSONL.

Sources: `local` (a copy of the mteb/amazon_reviews_multi layout on disk), `mirror`
(download that layout from the public mirror) or `file` (a CSV/JSONL file of your own per
language), one for all languages or per language (`local nl=file`). Output:
OUTPUT_DIR/{lang}/{train,validation,test}.jsonl, the splits the source has, each record
{"id", "text", "label": "POS"|"NEG"}. A file for an --unlabeled language may have no label
field: its records are {"id", "text"}.
"""
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List

from tqdm import tqdm
from wasabi import msg

from .errors import DataError
from .files import atomic_path, write_jsonl
from .reviews import check_lang, check_unlabeled, read_reviews

SPLITS = ("train", "validation", "test")
SOURCES = ("local", "mirror", "file")
# The fields of the mirror's files: --text-field, --label-field and --label-scheme describe a user's file.
MIRROR_LAYOUT = {"text_field": "text", "label_field": "label", "label_scheme": "stars0"}
LANG_VALUE = re.compile(r"^([a-z]{2,3})=(.+)$")


def language_sources(source: str, languages: List[str]) -> Dict[str, str]:
    """{lang: source} from `local`, or a default and per-language sources such as `local nl=file`."""
    default, sources = None, {}
    for word in source.split():
        match = LANG_VALUE.match(word)
        if match:
            sources[match.group(1)] = match.group(2)
        elif default is None:
            default = word
        else:
            raise DataError(f"data_source '{source}' has two defaults, {default} and {word}: give one source for "
                            "all languages, and lang=source for the others (e.g. 'local nl=file')")
    strays = [lang for lang in sources if lang not in languages]
    if strays:
        raise DataError(f"data_source names {' '.join(strays)}, which languages does not")
    missing = [lang for lang in languages if lang not in sources and default is None]
    if missing:
        raise DataError(f"data_source '{source}' gives no source for {' '.join(missing)}: start it with the source "
                        "of the other languages (e.g. 'local nl=file')")
    sources = {lang: sources.get(lang, default) for lang in languages}
    for lang, value in sources.items():
        if value not in SOURCES:
            raise DataError(f"Unknown data_source '{value}': use local, mirror or file")
    return sources


def language_files(data_file: str, languages: List[str]) -> Dict[str, Path]:
    """{lang: path} of the languages that read a file (`languages`): one path for one language, or
    `lang=path` pairs."""
    words = data_file.split()
    if not words or not all(LANG_VALUE.match(word) for word in words):
        if len(languages) > 1:
            raise DataError(
                f"data_source=file reads one file in one language, but {' '.join(languages)} read from a file: "
                "set languages to that file's language, or give each its own file, e.g. "
                f"data_file='{languages[0]}=first.csv {languages[1]}=second.csv'"
            )
        return {lang: Path(data_file) for lang in languages}
    files = {match.group(1): Path(match.group(2)) for match in map(LANG_VALUE.match, words)}
    strays = [lang for lang in files if lang not in languages]
    if strays:
        raise DataError(f"data_file names {' '.join(strays)}, which data_source does not read from a file")
    return {lang: files.get(lang, Path("")) for lang in languages}


def download(url: str, path: Path) -> bool:
    """Download `url` to `path` atomically with a progress bar; False if the server has no such file."""
    try:
        response = urllib.request.urlopen(url, timeout=60)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return False
        raise DataError(f"Download failed: {url}: HTTP {err.code}") from None
    except urllib.error.URLError as err:
        raise DataError(
            f"Download failed: {url}: {err.reason}. Without network access, use "
            "data_source=local with a copy of the data (see README)."
        ) from None
    total = int(response.headers.get("Content-Length") or 0) or None
    with atomic_path(path) as tmp, tmp.open("wb") as file_, response:
        with tqdm(total=total, unit="B", unit_scale=True, desc=path.name) as bar:
            while chunk := response.read(1 << 20):
                file_.write(chunk)
                bar.update(len(chunk))
    return True


def source_files(source: str, lang: str, data_dir: Path, mirror_url: str, data_file: Path, cache_dir: Path):
    """{split: path} of the raw files for one language."""
    if source == "file":
        if data_file in (None, Path("")):
            raise DataError("data_source=file needs the path of your CSV or JSONL file in data_file")
        if not data_file.is_file():
            raise DataError(f"data_file not found: {data_file}")
        return {"train": data_file}
    if source == "local":
        files = {split: data_dir / lang / f"{split}.jsonl" for split in SPLITS}
        if not files["train"].is_file():
            raise DataError(
                f"Missing file {files['train']}: data_dir must hold {{lang}}/train.jsonl "
                "(the mteb/amazon_reviews_multi layout); set data_source=mirror to download it."
            )
        return {split: path for split, path in files.items() if path.is_file()}
    if source == "mirror":
        files = {}
        for split in SPLITS:
            path = cache_dir / lang / f"{split}.jsonl"
            if path.is_file() or download(f"{mirror_url}/{lang}/{split}.jsonl", path):
                files[split] = path
        if "train" not in files:
            raise DataError(f"The mirror {mirror_url} has no {lang}/train.jsonl")
        return files
    raise DataError(f"Unknown data_source '{source}': use local, mirror or file")


def collect_reviews(
    languages: List[str],
    *,
    output_dir: Path,
    source: str,
    data_dir: Path,
    mirror_url: str,
    data_file: str,
    text_field: str,
    label_field: str,
    label_scheme: str,
    cache_dir: Path,
    unlabeled: List[str],
) -> None:
    """Write each language's reviews to OUTPUT_DIR/{lang}/{split}.jsonl (module doc)."""
    sources = language_sources(source, languages)
    data_files = language_files(data_file, [lang for lang in languages if sources[lang] == "file"])
    for lang in languages:
        check_lang(lang)
    check_unlabeled(languages, unlabeled)
    file_layout = {"text_field": text_field, "label_field": label_field, "label_scheme": label_scheme}
    for lang in languages:
        files = source_files(sources[lang], lang, data_dir, mirror_url, data_files.get(lang), cache_dir)
        layout = file_layout if sources[lang] == "file" else MIRROR_LAYOUT
        splits = {split: read_reviews(path, **layout, require_labels=lang not in unlabeled)
                  for split, path in files.items()}
        out_dir = output_dir / lang
        if out_dir.exists():
            shutil.rmtree(out_dir)
        for split, reviews in splits.items():
            write_jsonl(out_dir / f"{split}.jsonl", reviews)
            msg.good(f"{lang} {split}: {len(reviews)} reviews from {files[split]}")
        if lang in unlabeled:
            labelled = all("label" in review for reviews in splits.values() for review in reviews)
            msg.info(f"{lang} is unlabeled: " + (
                "its labels are used for its test set only, never for training" if labelled else
                "its reviews have no labels, so it has no test set; its student is scored on reviews the "
                "teacher labelled"))
