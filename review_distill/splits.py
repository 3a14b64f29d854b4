"""The `preprocess` step: deduplicate the reviews and split them into balanced train/dev/test
DocBins and an unlabeled pool.

Test comes from the test split, dev from validation, train from train (carved from train where a
split is missing); every other review goes to the pool. Held-out splits win over train when
deduplicating. An unlabeled language gets a test set and a pool only, with `pool_dev.jsonl` and
`pool_train.jsonl` held out of it. The method: docs/method.md, "The data"."""
import random
from pathlib import Path
from typing import Dict, List, Tuple

from spacy.tokens import DocBin
from tqdm import tqdm
from wasabi import msg

from .errors import DataError, MissingInput
from .files import atomic_path, write_json, write_jsonl
from .reviews import LABELS, check_lang, check_unlabeled, make_nlp, normalize_text, read_jsonl

# Which source split each output is drawn from, in order of precedence for deduplication.
SOURCE_ORDER = ("test", "validation", "train")
# An unlabeled language's pool, held-out dev part and augmentation part, as preprocess writes them.
POOL_FILES = ("pool.jsonl", "pool_dev.jsonl", "pool_train.jsonl")


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


def split_unlabeled(
    splits: Dict[str, List[dict]], *, lang: str, n_train: int, n_dev: int, n_test: int, seed: int
) -> Tuple[Dict[str, List[dict]], dict]:
    """Return {test (labelled reviews only), pool_dev, pool_train, pool} and stats for a language whose labels
    are never trained on; the test set is the one split_reviews draws."""
    unique, removed = deduplicate(splits)
    labelled = all("label" in review for reviews in unique.values() for review in reviews)
    rest = [review for split in SOURCE_ORDER[1:] for review in unique.get(split, [])]
    out = {}
    if labelled:
        rng = random.Random(f"{seed}:{lang}:test")
        what = f"{lang} test set (from {'test' if 'test' in unique else 'train'})"
        if "test" in unique:
            out["test"], _ = balanced_sample(unique["test"], n_test, rng, what)
        else:
            out["test"], rest = balanced_sample(unique["train"], n_test, rng, what)
            rest = unique.get("validation", []) + rest
    needed = n_dev + n_train
    if len(rest) < needed:
        raise DataError(
            f"Too few reviews for the pool of {lang}, an unlabeled language: there are {len(rest)} reviews "
            f"outside its test set (after deduplication), {needed} are needed (n_dev {n_dev} for the teacher-labelled "
            f"dev set and n_train {n_train} for augmentation)"
        )
    pool = [{"id": review["id"], "text": review["text"]} for review in rest]
    random.Random(f"{seed}:{lang}:pool").shuffle(pool)
    out.update(pool_dev=pool[:n_dev], pool_train=pool[n_dev:needed], pool=pool[needed:])
    stats = {
        "language": lang,
        "seed": seed,
        "unlabeled": True,
        "gold_labels": "test only" if labelled else "none",
        "source_reviews": {split: len(reviews) for split, reviews in splits.items()},
        "duplicates_removed": removed,
        "test_from": ("test" if "test" in unique else "train") if labelled else None,
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


def split_languages(
    languages: List[str], *, input_dir: Path, output_dir: Path, n_train: int, n_dev: int, n_test: int, seed: int,
    unlabeled: List[str],
) -> None:
    """Split each language's reviews into OUTPUT_DIR/{lang}/: DocBins, pool files and stats.json."""
    for lang in languages:
        check_lang(lang)
    check_unlabeled(languages, unlabeled)
    for lang in languages:
        lang_dir = input_dir / lang
        if not (lang_dir / "train.jsonl").is_file():
            raise MissingInput(f"Missing file {lang_dir / 'train.jsonl'}: run `spacy project run data` first")
        splits = {
            split: read_jsonl(lang_dir / f"{split}.jsonl")
            for split in SOURCE_ORDER
            if (lang_dir / f"{split}.jsonl").is_file()
        }
        split = split_unlabeled if lang in unlabeled else split_reviews
        sets, stats = split(splits, lang=lang, n_train=n_train, n_dev=n_dev, n_test=n_test, seed=seed)
        nlp = make_nlp(lang)
        out_dir = output_dir / lang
        for name in ("train", "dev", "test"):
            if name in sets:
                write_docbin(nlp, sets[name], out_dir / f"{name}.spacy", desc=f"{lang} {name}")
            elif (out_dir / f"{name}.spacy").exists():  # of an earlier run in which lang had labels
                (out_dir / f"{name}.spacy").unlink()
        for name in POOL_FILES:
            if name[:-6] in sets:
                write_jsonl(out_dir / name, sets[name[:-6]])
            elif (out_dir / name).exists():
                (out_dir / name).unlink()
        write_json(out_dir / "stats.json", stats)
        removed = sum(stats["duplicates_removed"].values())
        if lang in unlabeled:
            test = f"test {n_test}" if "test" in sets else "no test set (no labels)"
            pool = sum(len(sets[name[:-6]]) for name in POOL_FILES)
            msg.good(f"{lang} (unlabeled: no gold train or dev): {test}, pool {pool} (of which dev {n_dev} and "
                     f"train {n_train} for the teacher to label); duplicates removed {removed} -> {out_dir}")
        else:
            msg.good(
                f"{lang}: train {n_train}, dev {n_dev}, test {n_test}, pool {len(sets['pool'])}; "
                f"duplicates removed {removed} -> {out_dir}"
            )
