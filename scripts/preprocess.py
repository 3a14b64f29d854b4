"""Deduplicate reviews and split them into balanced train/dev/test DocBins and an unlabeled pool.

Per language: test comes from the test split, dev from the validation split (both carved
from train where the source has none), train from train; every train review left over goes
to the unlabeled pool (labels dropped). Duplicates (same normalized text) are removed first,
held-out splits taking precedence, so no dev or test text appears in train or the pool.
"""
import json
import random
from pathlib import Path
from typing import Dict, List, Tuple

import typer
from spacy.tokens import DocBin
from tqdm import tqdm
from wasabi import msg

from reviews import LABELS, DataError, atomic_path, check_lang, make_nlp, normalize_text, read_jsonl, write_jsonl

# Which source split each output is drawn from, in order of precedence for deduplication.
SOURCE_ORDER = ("test", "validation", "train")


def deduplicate(splits: Dict[str, List[dict]]) -> Tuple[Dict[str, List[dict]], Dict[str, int]]:
    """Keep the first review of each normalized text, test before validation before train."""
    seen = set()
    unique, removed = {}, {}
    for split in SOURCE_ORDER:
        if split not in splits:
            continue
        unique[split] = []
        for review in splits[split]:
            key = normalize_text(review["text"])
            if key not in seen:
                seen.add(key)
                unique[split].append(review)
        removed[split] = len(splits[split]) - len(unique[split])
    return unique, removed


def balanced_sample(reviews: List[dict], n: int, rng: random.Random, what: str) -> Tuple[List[dict], List[dict]]:
    """Draw n reviews, half POS and half NEG, in random order; return (sample, the rest)."""
    if n % 2:
        raise DataError(f"{what}: the size must be even to balance POS and NEG, got {n}")
    sample, rest = [], []
    for label in LABELS:
        of_label = [review for review in reviews if review["label"] == label]
        if len(of_label) < n // 2:
            raise DataError(
                f"Too few reviews for a balanced {what} of {n}: there are {len(of_label)} {label} "
                f"reviews (after deduplication and earlier splits), {n // 2} are needed"
            )
        rng.shuffle(of_label)
        sample.extend(of_label[: n // 2])
        rest.extend(of_label[n // 2 :])
    rng.shuffle(sample)
    rng.shuffle(rest)
    return sample, rest


def split_reviews(
    splits: Dict[str, List[dict]], *, lang: str, n_train: int, n_dev: int, n_test: int, seed: int
) -> Tuple[Dict[str, List[dict]], dict]:
    """Return {train, dev, test, pool} and stats; deterministic for a seed."""
    unique, removed = deduplicate(splits)
    remaining = unique["train"]
    out = {}
    for name, source, n in (("test", "test", n_test), ("dev", "validation", n_dev), ("train", "train", n_train)):
        rng = random.Random(f"{seed}:{lang}:{name}")
        what = f"{lang} {name} set (from {source if source in unique else 'train'})"
        if source in unique and source != "train":
            out[name], _ = balanced_sample(unique[source], n, rng, what)
        else:
            out[name], remaining = balanced_sample(remaining, n, rng, what)
    out["pool"] = [{"id": review["id"], "text": review["text"]} for review in remaining]
    stats = {
        "language": lang,
        "seed": seed,
        "source_reviews": {split: len(reviews) for split, reviews in splits.items()},
        "duplicates_removed": removed,
        "dev_from": "validation" if "validation" in unique else "train",
        "test_from": "test" if "test" in unique else "train",
        "sizes": {name: len(reviews) for name, reviews in out.items()},
    }
    return out, stats


def write_docbin(nlp, reviews: List[dict], path: Path, desc: str) -> None:
    """Tokenize reviews and save them with one-hot cats and their ids, atomically."""
    doc_bin = DocBin(store_user_data=True)
    texts = (review["text"] for review in reviews)
    for review, doc in zip(reviews, tqdm(nlp.pipe(texts), total=len(reviews), desc=desc, leave=False, disable=None)):
        doc.cats = {label: float(review["label"] == label) for label in LABELS}
        doc.user_data["id"] = review["id"]
        doc_bin.add(doc)
    with atomic_path(path) as tmp:
        doc_bin.to_disk(tmp)


def main(
    languages: List[str] = typer.Argument(..., help="Language codes"),
    input_dir: Path = typer.Option(Path("assets/reviews"), help="{lang}/{split}.jsonl from get_reviews.py"),
    output_dir: Path = typer.Option(Path("corpus"), help="Where to write {lang}/..."),
    n_train: int = typer.Option(1000),
    n_dev: int = typer.Option(1000),
    n_test: int = typer.Option(1000),
    seed: int = typer.Option(0),
):
    try:
        for lang in languages:
            check_lang(lang)
        for lang in languages:
            lang_dir = input_dir / lang
            if not (lang_dir / "train.jsonl").is_file():
                raise DataError(f"Missing file {lang_dir / 'train.jsonl'}: run `spacy project run data` first")
            splits = {
                split: read_jsonl(lang_dir / f"{split}.jsonl")
                for split in SOURCE_ORDER
                if (lang_dir / f"{split}.jsonl").is_file()
            }
            sets, stats = split_reviews(splits, lang=lang, n_train=n_train, n_dev=n_dev, n_test=n_test, seed=seed)
            nlp = make_nlp(lang)
            out_dir = output_dir / lang
            for name in ("train", "dev", "test"):
                write_docbin(nlp, sets[name], out_dir / f"{name}.spacy", desc=f"{lang} {name}")
            write_jsonl(out_dir / "pool.jsonl", sets["pool"])
            with atomic_path(out_dir / "stats.json") as tmp:
                tmp.write_text(json.dumps(stats, indent=2) + "\n", encoding="utf8")
            msg.good(
                f"{lang}: train {n_train}, dev {n_dev}, test {n_test}, pool {len(sets['pool'])}; "
                f"duplicates removed {sum(stats['duplicates_removed'].values())} -> {out_dir}"
            )
    except DataError as err:
        msg.fail(str(err), exits=1)


if __name__ == "__main__":
    typer.run(main)
