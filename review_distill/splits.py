"""The `preprocess` step: deduplicate the reviews and split them into balanced train/dev/test
DocBins and an unlabeled pool.

Test comes from the test split, dev from validation, train from train (carved from train where a
split is missing); every other review goes to the pool. Held-out splits win over train when
deduplicating; reviews without a label go to the pool. An unlabeled language gets a test set and a
pool only, with `pool_dev.jsonl` and `pool_train.jsonl` held out of it. The task and the sources the data
step wrote are copied to OUTPUT_DIR/task.json and OUTPUT_DIR/source.json for the later steps. The method: docs/method.md, "The data"."""
import random
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

from spacy.tokens import DocBin
from tqdm import tqdm
from wasabi import msg

from .errors import DataError, MissingInput
from .files import atomic_path, write_json, write_jsonl
from .records import SOURCE_FILE, read_sources, write_sources
from .reviews import check_lang, check_unlabeled, make_nlp, normalize_text, read_jsonl
from .tasks import Task, read_task, write_task

# Which source split each output is drawn from, in order of precedence for deduplication.
SOURCE_ORDER = ("test", "validation", "train")
# For categories, the least a label may take of a sample: its equal share divided by this.
MIN_SHARE_DIVISOR = 10
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


def label_shares(n: int, labels: Sequence[str]) -> Dict[str, int]:
    """An equal share of n per label; the first n % len(labels) labels take one more."""
    return {label: n // len(labels) + (i < n % len(labels)) for i, label in enumerate(labels)}


def label_quotas(counts: Dict[str, int], n: int, task: Task, what: str, later: int = 0) -> Dict[str, int]:
    """How many reviews of each label a sample of n takes (docs/method.md, "Tasks"). An equal
    share per label; for categories, a label short of it gives what it has, keeping the part that
    `later` samples from the same reviews need, and the other labels fill the sample evenly."""
    shares = label_shares(n, task.labels)
    if task.name != "categories":
        short = [label for label in task.labels if counts[label] < shares[label]]
        if short:
            raise DataError(f"Too few reviews for a balanced {what} of {n}: " + "; ".join(
                f"there are {counts[label]} {label} reviews, {shares[label]} are needed" for label in short)
                + " (after deduplication and earlier splits)")
        return shares
    caps = {label: counts[label] * n // (n + later) for label in task.labels}
    quotas = {label: 0 for label in task.labels}
    while sum(quotas.values()) < n:
        open_labels = [label for label in task.labels if quotas[label] < caps[label]]
        if not open_labels:
            raise DataError(f"Too few reviews for the {what} of {n}: " + ", ".join(
                f"{label} {counts[label]}" for label in task.labels) + " (after deduplication and earlier splits)")
        for label, extra in label_shares(n - sum(quotas.values()), open_labels).items():
            quotas[label] = min(caps[label], quotas[label] + extra)
    least = {label: -(-shares[label] // MIN_SHARE_DIVISOR) for label in task.labels}
    short = [label for label in task.labels if quotas[label] < least[label]]
    if short:
        raise DataError(f"Too few reviews of {', '.join(short)} for the {what} of {n}: " + "; ".join(
            f"{label} has {counts[label]} (it would get {quotas[label]}, {least[label]} at least)" for label in short)
            + ". Each label needs a tenth of an equal share in every split: label more reviews of it, or merge it "
            "with another label")
    if quotas != shares:
        msg.warn(f"{what}: not balanced, too few reviews of some labels: " + ", ".join(
            f"{label} {quotas[label]}" for label in task.labels))
    return quotas


def balanced_sample(reviews: List[dict], n: int, rng: random.Random, what: str, task: Task,
                    later: int = 0) -> Tuple[List[dict], List[dict]]:
    """Draw n labelled reviews, an equal share per label (label_quotas), in random order; return
    (sample, the other labelled reviews)."""
    by_label = {label: [review for review in reviews if review.get("label") == label] for label in task.labels}
    quotas = label_quotas({label: len(of_label) for label, of_label in by_label.items()}, n, task, what, later)
    sample, rest = [], []
    for label, of_label in by_label.items():
        rng.shuffle(of_label)
        sample.extend(of_label[: quotas[label]])
        rest.extend(of_label[quotas[label] :])
    rng.shuffle(sample)
    rng.shuffle(rest)
    return sample, rest


def split_reviews(
    splits: Dict[str, List[dict]], *, lang: str, n_train: int, n_dev: int, n_test: int, seed: int, task: Task
) -> Tuple[Dict[str, List[dict]], dict]:
    """Return {train, dev, test, pool} and stats; deterministic for a seed. Reviews without a label
    go to the pool."""
    unique, removed = deduplicate(splits)
    unlabelled = [review for split in SOURCE_ORDER for review in unique.get(split, []) if "label" not in review]
    remaining = [review for review in unique["train"] if "label" in review]
    out = {}
    plan = (("test", "test", n_test), ("dev", "validation", n_dev), ("train", "train", n_train))
    for i, (name, source, n) in enumerate(plan):
        rng = random.Random(f"{seed}:{lang}:{name}")
        what = f"{lang} {name} set (from {source if source in unique else 'train'})"
        if source in unique and source != "train":
            out[name], _ = balanced_sample(unique[source], n, rng, what, task)
        else:
            later = sum(size for _, later_source, size in plan[i + 1 :] if later_source not in unique
                        or later_source == "train")
            out[name], remaining = balanced_sample(remaining, n, rng, what, task, later)
    out["pool"] = [{"id": review["id"], "text": review["text"]} for review in remaining + unlabelled]
    stats = {
        "language": lang,
        "seed": seed,
        "source_reviews": {split: len(reviews) for split, reviews in splits.items()},
        "duplicates_removed": removed,
        "dev_from": "validation" if "validation" in unique else "train",
        "test_from": "test" if "test" in unique else "train",
        "sizes": {name: len(reviews) for name, reviews in out.items()},
    }
    if unlabelled:
        stats["unlabelled_reviews"] = len(unlabelled)
    return out, stats


def split_unlabeled(
    splits: Dict[str, List[dict]], *, lang: str, n_train: int, n_dev: int, n_test: int, seed: int, task: Task
) -> Tuple[Dict[str, List[dict]], dict]:
    """Return {test (labelled reviews only), pool_dev, pool_train, pool} and stats for a language whose labels
    are never trained on; the test set is the one split_reviews draws."""
    unique, removed = deduplicate(splits)
    labelled = any("label" in review for reviews in unique.values() for review in reviews)
    rest = [review for split in SOURCE_ORDER[1:] for review in unique.get(split, [])]
    out = {}
    if labelled:
        rng = random.Random(f"{seed}:{lang}:test")
        what = f"{lang} test set (from {'test' if 'test' in unique else 'train'})"
        if "test" in unique:
            out["test"], _ = balanced_sample(unique["test"], n_test, rng, what, task)
        else:
            out["test"], rest = balanced_sample(unique["train"], n_test, rng, what, task)
            rest = unique.get("validation", []) + rest + [review for review in unique["train"] if "label" not in review]
    rest += [review for review in unique.get("test", []) if "label" not in review]
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


def write_docbin(nlp, reviews: List[dict], path: Path, desc: str, labels: Sequence[str]) -> None:
    """Tokenize reviews and save them with one-hot cats over `labels` and their ids, atomically."""
    doc_bin = DocBin(store_user_data=True)
    texts = (review["text"] for review in reviews)
    for review, doc in zip(reviews, tqdm(nlp.pipe(texts), total=len(reviews), desc=desc, leave=False, disable=None)):
        doc.cats = {label: float(review["label"] == label) for label in labels}
        doc.user_data["id"] = review["id"]
        doc_bin.add(doc)
    with atomic_path(path) as tmp:
        doc_bin.to_disk(tmp)


def split_languages(
    languages: List[str], *, input_dir: Path, output_dir: Path, n_train: int, n_dev: int, n_test: int, seed: int,
    unlabeled: List[str],
) -> None:
    """Split each language's reviews into OUTPUT_DIR/{lang}/: DocBins, pool files and stats.json; and
    copy the task and the sources to OUTPUT_DIR/task.json and OUTPUT_DIR/source.json."""
    for lang in languages:
        check_lang(lang)
    check_unlabeled(languages, unlabeled)
    task = read_task(input_dir / "task.json", step="data")
    sources = read_sources(input_dir / SOURCE_FILE, step="data")
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
        sets, stats = split(splits, lang=lang, n_train=n_train, n_dev=n_dev, n_test=n_test, seed=seed, task=task)
        nlp = make_nlp(lang)
        out_dir = output_dir / lang
        for name in ("train", "dev", "test"):
            if name in sets:
                write_docbin(nlp, sets[name], out_dir / f"{name}.spacy", f"{lang} {name}", task.labels)
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
            unlabelled = f" (of which {stats['unlabelled_reviews']} unlabelled reviews)" if "unlabelled_reviews" in stats else ""
            msg.good(
                f"{lang}: train {n_train}, dev {n_dev}, test {n_test}, pool {len(sets['pool'])}{unlabelled}; "
                f"duplicates removed {removed} -> {out_dir}"
            )
    write_task(output_dir / "task.json", task)
    write_sources(output_dir / SOURCE_FILE, sources)
