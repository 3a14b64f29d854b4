"""Collect labelled reviews per language, validate them and write them as POS/NEG JSONL.

Sources: `local` (a copy of the mteb/amazon_reviews_multi layout on disk), `mirror`
(download that layout from the public mirror) or `file` (one CSV/JSONL file of your own,
for a single language). Output: OUTPUT_DIR/{lang}/{train,validation,test}.jsonl, the
splits the source has, each record {"id", "text", "label": "POS"|"NEG"}.
"""
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import List

import typer
from tqdm import tqdm
from wasabi import msg

from reviews import DataError, atomic_path, check_lang, read_reviews, write_jsonl

SPLITS = ("train", "validation", "test")


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
        if data_file == Path(""):
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


def main(
    languages: List[str] = typer.Argument(..., help="Language codes, e.g. en de ja"),
    output_dir: Path = typer.Option(Path("assets/reviews"), help="Where to write {lang}/{split}.jsonl"),
    source: str = typer.Option("local", help="local, mirror or file"),
    data_dir: Path = typer.Option(Path("../shared/data/amazon_reviews_multi"), help="For source=local"),
    mirror_url: str = typer.Option(
        "https://huggingface.co/datasets/mteb/amazon_reviews_multi/resolve/main", help="For source=mirror"
    ),
    data_file: Path = typer.Option(Path(""), help="For source=file: a CSV or JSONL file"),
    text_field: str = typer.Option("text", help="Column holding the review text"),
    label_field: str = typer.Option("label", help="Column holding the stars or binary label"),
    label_scheme: str = typer.Option("stars0", help="stars0 (0-4), stars (1-5) or binary (0/1, NEG/POS)"),
    cache_dir: Path = typer.Option(Path("assets/mirror"), help="For source=mirror: downloaded files"),
):
    try:
        if source == "file" and len(languages) != 1:
            raise DataError(
                f"data_source=file reads one file in one language, but languages is "
                f"'{' '.join(languages)}': set languages to that file's language"
            )
        for lang in languages:
            check_lang(lang)
        for lang in languages:
            files = source_files(source, lang, data_dir, mirror_url, data_file, cache_dir)
            splits = {
                split: read_reviews(path, text_field=text_field, label_field=label_field, label_scheme=label_scheme)
                for split, path in files.items()
            }
            out_dir = output_dir / lang
            if out_dir.exists():
                shutil.rmtree(out_dir)
            for split, reviews in splits.items():
                write_jsonl(out_dir / f"{split}.jsonl", reviews)
                msg.good(f"{lang} {split}: {len(reviews)} reviews from {files[split]}")
    except DataError as err:
        msg.fail(str(err), exits=1)


if __name__ == "__main__":
    typer.run(main)
