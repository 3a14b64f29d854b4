"""The texts the `label` step labels, per language: the gold train reviews (of a language without
labels: its pool_train reviews), a seeded sample of the synthetic texts and of the pool, the
transfer texts of the user's own file (all of them), and (without labels) the held-out dev reviews.
Each is a dict of the text and the provenance that goes to the doc's user_data."""
import random
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from spacy.tokens import DocBin
from spacy.vocab import Vocab
from wasabi import msg

from .errors import DataError, MissingInput
from .reviews import LANG_VALUE, check_lang, read_jsonl, read_texts
from .tasks import read_task

# The source of the texts of the user's own files (var transfer_texts).
TRANSFER = "transfer"
SOURCES = ("gold", "augmented", "pool", TRANSFER)
# The source of an unlabeled language's held-out reviews, labelled for its student's dev set.
DEV = "dev"
# The task the preprocess step wrote beside the splits: the labels the teacher labels with.
def check_sizes(pool_size: int, augmented_size: int, shard_size: int, batch_size: int) -> None:
    for name, value in (("pool_size", pool_size), ("augmented_size", augmented_size)):
        if value < -1:
            raise DataError(f"{name} must be -1 (all), 0 (none) or a positive number of texts, got {value}")
    for name, value in (("shard_size", shard_size), ("batch_size", batch_size)):
        if value < 1:
            raise DataError(f"{name} must be at least 1, got {value}")


def check_inputs(languages: Sequence[str], unlabeled: Sequence[str], corpus_dir: Path, augmented_dir: Path,
                 pool_size: int, augmented_size: int) -> None:
    """The task file and each language's files from the preprocess and augment steps, where the sizes
    ask for them."""
    read_task(corpus_dir / "task.json")
    for lang in languages:
        check_lang(lang)
        first = ("pool_train.jsonl", "pool_dev.jsonl") if lang in unlabeled else ("train.spacy",)
        for path, step, needed in (*((corpus_dir / lang / name, "preprocess", True) for name in first),
                                   (corpus_dir / lang / "pool.jsonl", "preprocess", pool_size != 0),
                                   (augmented_dir / f"{lang}.jsonl", "augment", augmented_size != 0)):
            if needed and not path.is_file():
                raise MissingInput(f"Missing file {path}: run `spacy project run {step}` first")


def gold_items(path: Path, vocab: Vocab, labels: Sequence[str]) -> List[dict]:
    """The gold training reviews, with their ids and labels, in the DocBin's order; each one's cats
    must be one-hot over `labels`, the task's."""
    items = []
    for i, doc in enumerate(DocBin().from_disk(path).get_docs(vocab)):
        review_id = doc.user_data.get("id")
        if not review_id:
            raise DataError(f"{path}: review {i} has no id in user_data: rerun `spacy project run preprocess`")
        gold = [label for label in labels if doc.cats.get(label) == 1.0]
        if len(gold) != 1 or sum(doc.cats.get(label, 0.0) for label in labels) != 1.0 or set(doc.cats) != set(labels):
            raise DataError(f"{path}: review {review_id} has no one-hot cats over the task's labels "
                            f"{'/'.join(labels)}: {doc.cats}: rerun `spacy project run preprocess`")
        items.append({"id": review_id, "source": "gold", "gold_label": gold[0], "text": doc.text})
    if not items:
        raise DataError(f"{path}: no training reviews")
    return items


def read_text_records(path: Path, fields: Sequence[str]) -> List[dict]:
    """JSONL records with an id, a non-empty text and `fields`."""
    rows = read_jsonl(path)
    for n, row in enumerate(rows, start=1):
        for field in ("id", "text", *fields):
            if field not in row:
                raise DataError(f"{path}: record {n} has no '{field}'")
        if not isinstance(row["text"], str) or not row["text"].strip():
            raise DataError(f"{path}: record {n} ({row['id']}) has an empty text")
    return rows


def sample(rows: Sequence[dict], size: int, key: str, what: str, var: str) -> List[dict]:
    """`size` rows (-1: all) in the order of a shuffle seeded by `key`, all if there are fewer; says
    how many of how many, and the var that sets it."""
    order = list(range(len(rows)))
    random.Random(key).shuffle(order)
    if size == -1 or size >= len(rows):
        msg.info(f"{what}: all {len(rows):,} ({var} {size})")
        return [rows[i] for i in order]
    msg.info(f"{what}: {size:,} of {len(rows):,}, a seeded sample: set {var} to label more (-1: all), which takes "
             "the teacher longer")
    return [rows[i] for i in order[:size]]


def pool_items(path: Path, source: str) -> List[dict]:
    """The reviews of one of an unlabeled language's pool files, as items of `source`."""
    rows = read_text_records(path, ())
    if not rows:
        raise DataError(f"{path}: no reviews: rerun `spacy project run preprocess`")
    return [{"id": row["id"], "source": source, "text": row["text"]} for row in rows]


def transfer_files(value: str, languages: Sequence[str]) -> Dict[str, Path]:
    """{lang: path} from the var transfer_texts, "en=texts.txt zh=more.jsonl"; each file must exist."""
    files = {}
    for word in value.split():
        match = LANG_VALUE.match(word)
        if not match:
            raise DataError(f"transfer_texts takes lang=path pairs, e.g. 'en=texts.txt zh=more.jsonl', not '{word}'")
        lang, path = match.group(1), Path(match.group(2))
        if lang not in languages:
            raise DataError(f"transfer_texts names {lang}, which is not in languages ({' '.join(languages)})")
        if not path.is_file():
            raise DataError(f"transfer_texts: {path} ({lang}) is not a file")
        files[lang] = path
    return files


def transfer_items(path: Path, lang: str, text_field: str) -> List[dict]:
    """The texts of the user's file for `lang` (read_texts), as items of the source transfer; says how many."""
    rows, n_empty, n_repeated = read_texts(path, text_field)
    msg.info(f"{lang} transfer texts: all {len(rows):,} of {path}" + (
        f" ({n_empty:,} empty and {n_repeated:,} repeated left out)" if n_empty or n_repeated else ""))
    return [{"id": f"{TRANSFER}_{row['id']}", "source": TRANSFER, "text": row["text"]} for row in rows]


def collect_items(
    lang: str, vocab: Vocab, corpus_dir: Path, augmented_dir: Path, pool_size: int, augmented_size: int, seed: int,
    unlabeled: bool = False, *, labels: Sequence[str], transfer: Optional[Path] = None, text_field: str = "text",
) -> List[dict]:
    """The texts to label, in order: gold (of an unlabeled language: pool_train), augmented sample, pool
    sample, the transfer texts of the file `transfer` (its `text_field`), and for an unlabeled language
    its held-out dev reviews. The gold reviews' cats must be one-hot over `labels`, the task's."""
    if unlabeled:
        items = pool_items(corpus_dir / lang / "pool_train.jsonl", "pool")
    else:
        items = gold_items(corpus_dir / lang / "train.spacy", vocab, labels)
    if augmented_size != 0:
        path = augmented_dir / f"{lang}.jsonl"
        rows = read_text_records(path, ("source_id", "ops"))
        if not rows:
            raise DataError(f"{path}: no synthetic texts (set augmented_size to 0 to label none)")
        for row in sample(rows, augmented_size, f"{seed}:{lang}:augmented", f"{lang} synthetic texts", "augmented_size"):
            items.append({"id": row["id"], "source": "augmented", "source_id": row["source_id"],
                          "ops": list(row["ops"]), "text": row["text"]})
    if pool_size != 0:
        path = corpus_dir / lang / "pool.jsonl"
        rows = read_text_records(path, ())
        if not rows:
            raise DataError(f"{path}: no pool reviews (set pool_size to 0 to label none)")
        for row in sample(rows, pool_size, f"{seed}:{lang}:pool", f"{lang} pool reviews", "pool_size"):
            items.append({"id": row["id"], "source": "pool", "text": row["text"]})
    if transfer is not None:
        items.extend(transfer_items(transfer, lang, text_field))
    if unlabeled:
        items.extend(pool_items(corpus_dir / lang / "pool_dev.jsonl", DEV))
    return items
