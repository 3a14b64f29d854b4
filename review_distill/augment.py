"""The `augment` step: synthetic variants of the training reviews for the teacher to label.

Per review, `n_iter` draws (Tang et al. 2019): each word masked with `p_mask` or replaced by a word
of its kind with `p_pos`, then the example cut to an n-gram with `p_ng` or to a subset of its
sentences with `p_sent` (Peirsman 2019). Words of a kind share a tag (word_kinds.py).
The method: docs/method.md, "Augmentation"."""
import os

# Before numpy loads: multi-threaded LAPACK crawls on a busy machine, even for the small
# eigendecomposition of the word classes, and one thread is plenty here.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import hashlib
import time
from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from spacy.language import Language
from spacy.pipeline import Sentencizer
from spacy.tokens import Doc, DocBin
from tqdm import tqdm
from transformers import AutoTokenizer
from wasabi import msg

from .errors import DataError, MissingInput
from .files import write_jsonl
from .reviews import check_lang, check_unlabeled, make_nlp, read_jsonl
from .word_kinds import MIN_COUNT, Tokens, load_tagger, parse_taggers, word_tags

MASK, POS, NGRAM, SENTENCES = "mask", "pos", "ngram", "sentences"
MAX_N = 5  # n-grams of 1-5 words
MAX_POOL = 20_000  # pool reviews read for word statistics (the pool is shuffled by preprocess)


@dataclass(frozen=True)
class Settings:
    """Tang et al.'s p_mask, p_pos and p_ng, Peirsman's p_sent, and the variants drawn per review."""

    p_mask: float = 0.1
    p_pos: float = 0.1
    p_ng: float = 0.25
    p_sent: float = 0.25
    n_iter: int = 20

    def check(self) -> None:
        """Raise DataError unless each probability is in [0, 1], the two of each exclusive draw
        sum to at most 1 and n_iter is positive."""
        for name in ("p_mask", "p_pos", "p_ng", "p_sent"):
            if not 0 <= getattr(self, name) <= 1:
                raise DataError(f"{name} must be between 0 and 1, got {getattr(self, name)}")
        if self.p_mask + self.p_pos > 1 or self.p_ng + self.p_sent > 1:
            raise DataError("p_mask + p_pos and p_ng + p_sent must each be at most 1 (the draws are exclusive)")
        if self.n_iter < 1:
            raise DataError(f"n_iter must be at least 1, got {self.n_iter}")


@dataclass(frozen=True)
class Review:
    """A training review: its tokens, their tags (None: not a word, or a word without a tag,
    never replaced) and its sentences as token spans."""

    id: str
    tokens: Tokens
    tags: Tuple[Optional[str], ...]
    sentences: Tuple[Tuple[int, int], ...]

    @property
    def text(self) -> str:
        return join(self.tokens.words, self.tokens.spaces)


class Replacements:
    """The words of each tag with their corpus frequencies, to draw another word of a kind."""

    def __init__(self, counts: Dict[Tuple[str, str], int], min_count: int = MIN_COUNT):
        by_tag: Dict[str, List[Tuple[str, int]]] = {}
        for (tag, word), count in sorted(counts.items()):
            if count >= min_count:
                by_tag.setdefault(tag, []).append((word, count))
        self.words = {tag: [word for word, _ in pairs] for tag, pairs in by_tag.items()}
        self.cumulative = {tag: list(accumulate(count for _, count in pairs)) for tag, pairs in by_tag.items()}
        # each word's share of the cumulative counts: [start, start + count)
        self.shares = {tag: {word: (end - count, count) for (word, count), end in zip(pairs, self.cumulative[tag])}
                       for tag, pairs in by_tag.items()}

    def draw(self, tag: Optional[str], word: str, u: float) -> str:
        """Another word of `tag`, by frequency, from a uniform u in [0, 1); `word` if there is none."""
        if tag not in self.words:
            return word
        cumulative = self.cumulative[tag]
        start, own = self.shares[tag].get(word, (0, 0))
        if cumulative[-1] == own:
            return word
        target = u * (cumulative[-1] - own)
        if target >= start:
            target += own  # skip the word itself
        return self.words[tag][min(bisect_right(cumulative, target), len(cumulative) - 1)]


def join(words: Sequence[str], spaces: Sequence[str]) -> str:
    """Text of tokens with their own trailing whitespace, stripped."""
    return "".join(word + space for word, space in zip(words, spaces)).strip()


def make_variant(
    review: Review, rng: np.random.Generator, settings: Settings, replacements: Replacements, mask: str
) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """One synthetic text and the operations visible in it; None if no unmasked word is left."""
    tokens = review.tokens
    words = list(tokens.words)
    word_positions = np.flatnonzero(tokens.is_word)
    x = rng.random(len(word_positions))  # X_i per word
    masked = np.zeros(len(words), dtype=bool)
    masked[word_positions[x < settings.p_mask]] = True
    for i in np.flatnonzero(masked):
        words[i] = mask
    replaced = np.zeros(len(words), dtype=bool)
    to_replace = word_positions[(x >= settings.p_mask) & (x < settings.p_mask + settings.p_pos)]
    for i, u in zip(to_replace, rng.random(len(to_replace))):
        words[i] = replacements.draw(review.tags[i], words[i], u)
        replaced[i] = words[i] != tokens.words[i]
    spans, ops = [(0, len(words))], []
    y, solid = rng.random(), np.flatnonzero(~tokens.is_space)
    if y < settings.p_ng:
        n = min(int(rng.integers(1, MAX_N + 1)), len(solid))
        if n < len(solid):
            start = int(rng.integers(0, len(solid) - n + 1))
            spans, ops = [(solid[start], solid[start + n - 1] + 1)], [NGRAM]
    elif y < settings.p_ng + settings.p_sent and len(review.sentences) > 1:
        n_sents = len(review.sentences)
        k = int(rng.integers(1, n_sents))
        spans, ops = [review.sentences[i] for i in sorted(rng.choice(n_sents, size=k, replace=False))], [SENTENCES]
    kept = np.zeros(len(words), dtype=bool)
    for start, end in spans:
        kept[start:end] = True
    if not (kept & tokens.is_word & ~masked).any():
        return None
    ops = [op for op, done in ((MASK, masked), (POS, replaced)) if (kept & done).any()] + ops
    positions = np.flatnonzero(kept)
    return join([words[i] for i in positions], [tokens.spaces[i] for i in positions]), tuple(ops)


def review_rng(seed: int, lang: str, review_id: str) -> np.random.Generator:
    """A generator of its own for each review: the output does not depend on review order."""
    digest = hashlib.blake2b(f"{seed}\0{lang}\0{review_id}".encode("utf8"), digest_size=8).digest()
    return np.random.default_rng(int.from_bytes(digest, "little"))


def augment_reviews(
    reviews: Sequence[Review], settings: Settings, replacements: Replacements, mask: str, *, lang: str, seed: int
) -> List[dict]:
    """n_iter variants per review; drop copies of training reviews and of earlier variants."""
    seen = {review.text for review in reviews}
    records = []
    for review in tqdm(reviews, desc=f"{lang} augment", leave=False, disable=None):
        rng, k = review_rng(seed, lang, review.id), 0
        for _ in range(settings.n_iter):
            variant = make_variant(review, rng, settings, replacements, mask)
            if variant is None or variant[0] in seen:
                continue
            seen.add(variant[0])
            records.append({"id": f"{review.id}-aug{k}", "source_id": review.id, "text": variant[0],
                            "ops": list(variant[1])})
            k += 1
    return records


def sentence_spans(docs: Sequence[Doc]) -> List[Tuple[Tuple[int, int], ...]]:
    """Token spans of each doc's sentences by spaCy's rule-based sentencizer."""
    spans = []
    for doc, starts in zip(docs, Sentencizer().predict(docs)):
        bounds = [i for i, start in enumerate(starts) if start and i > 0] + [len(doc)]
        spans.append(tuple(zip([0] + bounds[:-1], bounds)))
    return spans


def prepare(
    lang: str, train: Sequence[Tuple[str, Doc]], pool: Sequence[Doc], tagger: Optional[Language] = None, seed: int = 0
) -> Tuple[List[Review], Replacements, str]:
    """The training reviews with tags and sentences, the replacement words of train + pool, and
    the tagging method."""
    docs = [doc for _, doc in train] + list(pool)
    tables = [Tokens.from_doc(doc) for doc in docs]
    tags, method = word_tags(lang, docs, tables, tagger, seed)
    counts = Counter((tag, word) for tokens, doc_tags in zip(tables, tags) for word, tag in zip(tokens.words, doc_tags)
                     if tag is not None)
    reviews = [
        Review(review_id, tokens, tuple(doc_tags), sentences)
        for (review_id, _), tokens, doc_tags, sentences in zip(train, tables, tags, sentence_spans(docs[: len(train)]))
    ]
    return reviews, Replacements(counts), method


def mask_token(teacher_model: Path) -> str:
    """The mask token of the teacher's tokenizer."""
    if not (teacher_model / "tokenizer_config.json").is_file():
        raise DataError(f"No teacher tokenizer at {teacher_model}: run `spacy project run teacher-encoder` first")
    token = AutoTokenizer.from_pretrained(teacher_model).mask_token
    if not token:
        raise DataError(f"The tokenizer at {teacher_model} has no mask token")
    return token


def read_corpus(
    corpus_dir: Path, lang: str, nlp: Language, tagger: Optional[Language], unlabeled: bool = False
) -> Tuple[List[Tuple[str, Doc]], List[Doc]]:
    """(id, doc) of each training review (of an unlabeled language: each review of pool_train.jsonl) and
    the pool's docs, tagged by `tagger` if given."""
    train_path, pool_path = corpus_dir / lang / "train.spacy", corpus_dir / lang / "pool.jsonl"
    if unlabeled:
        train_path = corpus_dir / lang / "pool_train.jsonl"
        rows = read_jsonl(train_path)
        train = [(row.get("id"), doc) for row, doc in zip(rows, nlp.pipe(row["text"] for row in rows))]
    else:
        train = [(doc.user_data.get("id"), doc) for doc in DocBin().from_disk(train_path).get_docs(nlp.vocab)]
    if not train:
        raise DataError(f"{train_path}: no training reviews")
    missing = [i for i, (review_id, _) in enumerate(train) if not review_id]
    if missing:
        raise DataError(f"{train_path}: review {missing[0]} has no id in user_data: rerun `spacy project run preprocess`")
    pool_texts = [row["text"] for row in read_jsonl(pool_path)[:MAX_POOL]]
    if tagger is not None:
        train = list(zip((review_id for review_id, _ in train), tagger.pipe(doc.text for _, doc in train)))
    pool = (nlp if tagger is None else tagger).pipe(pool_texts)
    return train, list(tqdm(pool, total=len(pool_texts), desc=f"{lang} pool", leave=False, disable=None))


def augment_languages(
    languages: List[str], *, corpus_dir: Path, output_dir: Path, teacher_model: Path, settings: Settings, seed: int,
    tagger_models: str, unlabeled: List[str],
) -> None:
    """Write OUTPUT_DIR/{lang}.jsonl: the variants of each language's training reviews (module doc)."""
    settings.check()
    check_unlabeled(languages, unlabeled)
    for lang in languages:
        check_lang(lang)
        for name in ("pool_train.jsonl" if lang in unlabeled else "train.spacy", "pool.jsonl"):
            if not (corpus_dir / lang / name).is_file():
                raise MissingInput(f"Missing file {corpus_dir / lang / name}: run `spacy project run preprocess` first")
    taggers = parse_taggers(tagger_models)
    taggers = {lang: load_tagger(lang, taggers[lang]) for lang in languages if lang in taggers}
    mask = mask_token(teacher_model)
    for lang in languages:
        start = time.perf_counter()
        train, pool = read_corpus(corpus_dir, lang, make_nlp(lang), taggers.get(lang), lang in unlabeled)
        reviews, replacements, method = prepare(lang, train, pool, taggers.get(lang), seed)
        msg.info(f"{lang}: POS method = {method}")
        records = augment_reviews(reviews, settings, replacements, mask, lang=lang, seed=seed)
        write_jsonl(output_dir / f"{lang}.jsonl", records)
        msg.good(f"{lang}: {len(records)} synthetic texts from {len(reviews)} reviews "
                 f"in {time.perf_counter() - start:.0f}s -> {output_dir / f'{lang}.jsonl'}")
