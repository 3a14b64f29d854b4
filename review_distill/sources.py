"""Collect reviews per language, validate them and write them as JSONL with the task's labels.

Sources: `local` (a copy of the mteb/amazon_reviews_multi layout on disk), `mirror`
(download that layout from the public mirror: resumed where a transfer was cut, checked),
`auto` (the local copy where there is one, else the mirror) or `file` (a CSV/JSONL file of your
own per language), one for all languages or per language (`auto nl=file`). Output:
OUTPUT_DIR/{lang}/{train,validation,test}.jsonl, the splits the source has, each record
{"id", "text", "label"} with a label of the task (review_distill.tasks), or {"id", "text"} for a review
without a label (it goes to the language's pool); OUTPUT_DIR/task.json, the task and its labels; and
OUTPUT_DIR/source.json, where each language's reviews came from (review_distill.records).
A file for an --unlabeled language may have no labels at all.
"""
import hashlib
import http.client
import json
import os
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from tqdm import tqdm
from wasabi import msg

from .errors import DataError
from .files import write_jsonl
from .records import SOURCE_FILE, write_sources
from .reviews import LANG_VALUE, check_lang, check_unlabeled, read_reviews
from .tasks import Task, check_task_name, make_task, write_task

SPLITS = ("train", "validation", "test")
SOURCES = ("auto", "local", "mirror", "file")
# The fields of the mirror's files: --text-field, --label-field and --label-scheme describe a user's file.
MIRROR_LAYOUT = {"text_field": "text", "label_field": "label", "label_scheme": "stars0"}


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
            raise DataError(f"Unknown data_source '{value}': use auto, local, mirror or file")
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


# What to do when the mirror cannot be reached: the data step's way out.
MIRROR_OFFLINE = ("There is no local copy either: put a copy of mteb/amazon_reviews_multi at data_dir "
                  "({lang}/train.jsonl, ...), or run where mirror_url is reachable (the download resumes where it "
                  "stopped).")


def download(url: str, path: Path, attempts: int = 3, sha256: str = "", json_lines: bool = True,
             offline: str = MIRROR_OFFLINE, step: str = "data") -> bool:
    """Download `url` to `path` with a progress bar, resuming a cut transfer from the part already
    written (`path`.part, kept across runs), and check it (check_download: against `sha256` where it is
    given, else the one the server sends; as JSON lines where `json_lines`); False if the server has no
    such file. `offline` is the way out an unreachable server's error gives, `step` the step to rerun."""
    part = path.with_name(path.name + ".part")
    part.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(attempts):
        done = part.stat().st_size if part.exists() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={done}-"} if done else {})
        try:
            response = urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return False
            if err.code == 416:  # the part is the whole file already
                break
            raise DataError(f"Download failed: {url}: HTTP {err.code}") from None
        except (urllib.error.URLError, OSError) as err:
            raise DataError(f"Download failed: {url}: {getattr(err, 'reason', err)}. {offline}") from None
        with response:
            if done and response.status != 206:  # the server sends the whole file
                done = 0
            length = int(response.headers.get("Content-Length") or 0)
            total = done + length if length else None
            sha256 = sha256 or _sha256_header(response.headers)
            try:
                with part.open("ab" if done else "wb") as file_, tqdm(
                    total=total, initial=done, unit="B", unit_scale=True, desc=path.name
                ) as bar:
                    while chunk := response.read(1 << 20):
                        file_.write(chunk)
                        bar.update(len(chunk))
            except (http.client.IncompleteRead, ConnectionError, TimeoutError) as err:
                msg.warn(f"{url}: the connection was cut after {part.stat().st_size} bytes ({type(err).__name__}); "
                         "resuming")
                continue
        if total is None or part.stat().st_size >= total:
            break
    else:
        raise DataError(f"Download of {url} was cut {attempts} times; the {part.stat().st_size} bytes received are "
                        f"kept in {part}: run the {step} step again to resume")
    check_download(part, url, sha256, json_lines, step)
    os.replace(part, path)
    return True


def _sha256_header(headers) -> str:
    """The file's SHA-256 where the server sends it (the Hugging Face hub's X-Linked-Etag), else ''."""
    value = (headers.get("X-Linked-Etag") or "").strip('"')
    return value if re.fullmatch(r"[0-9a-f]{64}", value) else ""


def check_download(part: Path, url: str, sha256: str, json_lines: bool = True, step: str = "data") -> None:
    """Raise DataError, deleting the file, unless it has the SHA-256 given (if any) and, where
    `json_lines`, every line is a JSON object."""
    problem = None
    if sha256 and hashlib.sha256(part.read_bytes()).hexdigest() != sha256:
        problem = f"its SHA-256 is not the {sha256} expected"
    elif json_lines:
        with part.open("rb") as file_:
            for line_no, line in enumerate(file_, start=1):
                try:
                    if not isinstance(json.loads(line), dict):
                        raise ValueError
                except ValueError:
                    problem = f"line {line_no} is not a JSON object"
                    break
    if problem:
        part.unlink()
        raise DataError(f"The download of {url} is corrupt: {problem}. It was deleted: run the {step} step again to "
                        "download it anew")


def resolve_source(source: str, lang: str, data_dir: Path, mirror_url: str, cache_dir: Path) -> str:
    """The source a language reads: auto is local where data_dir has the language, else mirror."""
    if source != "auto":
        return source
    if (data_dir / lang / "train.jsonl").is_file():
        return "local"
    msg.info(f"{lang}: no local copy at {data_dir}; reading the mirror {mirror_url} (cached in {cache_dir})")
    return "mirror"


def source_files(source: str, lang: str, data_dir: Path, mirror_url: str, data_file: Path, cache_dir: Path):
    """{split: path} of the raw files for one language."""
    if source == "file":
        if data_file in (None, Path("")):
            raise DataError("data_source=file needs the path of your CSV or JSONL file in data_file")
        if not data_file.is_file():
            raise DataError(f"data_file not found: {data_file}")
        return {"train": data_file}
    source = resolve_source(source, lang, data_dir, mirror_url, cache_dir)
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
    raise DataError(f"Unknown data_source '{source}': use auto, local, mirror or file")


def source_record(source: str, data_file: Optional[Path], splits: Dict[str, Tuple[Path, List[dict]]]) -> Dict:
    """Where a language's reviews came from (records.write_sources): the source, the file's name (never its
    directory) and how many labelled and unlabelled reviews it had."""
    reviews = [review for _, split_reviews in splits.values() for review in split_reviews]
    unlabelled = sum("label" not in review for review in reviews)
    return {"source": source, **({"file": data_file.name} if source == "file" else {}),
            "labelled": len(reviews) - unlabelled, "unlabelled": unlabelled}


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
    task: str,
    cache_dir: Path,
    unlabeled: List[str],
) -> Task:
    """Write each language's reviews to OUTPUT_DIR/{lang}/{split}.jsonl, the task to OUTPUT_DIR/task.json
    and the sources to OUTPUT_DIR/source.json (module doc); return the task."""
    sources = language_sources(source, languages)
    data_files = language_files(data_file, [lang for lang in languages if sources[lang] == "file"])
    for lang in languages:
        check_lang(lang)
    check_unlabeled(languages, unlabeled)
    check_task_name(task)
    file_layout = {"text_field": text_field, "label_field": label_field, "label_scheme": label_scheme}
    sources = {lang: resolve_source(sources[lang], lang, data_dir, mirror_url, cache_dir) for lang in languages}
    read = {}
    for lang in languages:
        files = source_files(sources[lang], lang, data_dir, mirror_url, data_files.get(lang), cache_dir)
        layout = file_layout if sources[lang] == "file" else MIRROR_LAYOUT
        read[lang] = {split: (path, read_reviews(path, **layout, task=task, require_labels=lang not in unlabeled))
                      for split, path in files.items()}
    labels = {lang: {review["label"] for _, reviews in splits.values() for review in reviews if "label" in review}
              for lang, splits in read.items()}
    the_task = make_task(task, set().union(*(labels[lang] for lang in languages if lang not in unlabeled)))
    for lang in unlabeled:
        unknown = sorted(labels[lang] - set(the_task.labels))
        if unknown:
            raise DataError(f"{lang} (unlabeled) has test labels {', '.join(map(repr, unknown))} that no labelled "
                            f"language has, so the teacher cannot learn them: its labels are {list(the_task.labels)}")
    for lang, splits in read.items():
        out_dir = output_dir / lang
        if out_dir.exists():
            shutil.rmtree(out_dir)
        for split, (path, reviews) in splits.items():
            write_jsonl(out_dir / f"{split}.jsonl", reviews)
            unlabelled = sum("label" not in review for review in reviews)
            counts = f"{len(reviews) - unlabelled} labelled, {unlabelled} unlabelled" if unlabelled else "labelled"
            msg.good(f"{lang} {split}: {len(reviews)} reviews ({counts}) from {path}")
        if lang in unlabeled:
            msg.info(f"{lang} is unlabeled: " + (
                "its labels are used for its test set only, never for training" if labels[lang] else
                "its reviews have no labels, so it has no test set; its student is scored on reviews the "
                "teacher labelled"))
    write_task(output_dir / "task.json", the_task)
    msg.good(f"Task {the_task.name}: labels {', '.join(the_task.labels)} -> {output_dir / 'task.json'}")
    write_sources(output_dir / SOURCE_FILE, {lang: source_record(sources[lang], data_files.get(lang), splits)
                                             for lang, splits in read.items()})
    return the_task
