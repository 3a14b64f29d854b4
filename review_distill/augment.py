"""The `augment` step: synthetic variants of the training reviews for the teacher to label.

Per review, `n_iter` draws (Tang et al. 2019): each word masked with `p_mask` or replaced by a word
of its kind with `p_pos`, then the example cut to an n-gram with `p_ng` or to a subset of its
sentences with `p_sent` (Peirsman 2019). Words of a kind share a tag: a spaCy tagger's, SudachiPy's
(ja), jieba's (zh) or a distributional word class learnt from the language's reviews.
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
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import jieba.posseg
import numpy as np
import spacy
from spacy.attrs import IS_PUNCT, IS_SPACE, MORPH, ORTH, SPACY, TAG
from spacy.language import Language
from spacy.pipeline import Sentencizer
from spacy.tokens import Doc, DocBin
from tqdm import tqdm
from transformers import AutoTokenizer
from wasabi import msg

from .errors import DataError, MissingInput
from .files import write_jsonl
from .reviews import check_lang, check_unlabeled, make_nlp, read_jsonl

MASK, POS, NGRAM, SENTENCES = "mask", "pos", "ngram", "sentences"
MAX_N = 5  # n-grams of 1-5 words
MIN_COUNT = 5  # how often a word must occur in train + pool to be drawn as a replacement
MAX_POOL = 20_000  # pool reviews read for word statistics (the pool is shuffled by preprocess)
# Distributional classes: neighbours among the N_CONTEXTS most frequent tokens, SVD to N_DIMS,
# N_CLASSES clusters.
N_CONTEXTS, N_DIMS, N_CLASSES, KMEANS_ITERATIONS = 300, 100, 60, 30
TAGGERS = ("tagger", "morphologizer")


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
class Tokens:
    """A doc's tokens, read in one pass: texts, trailing whitespace, and which are words (may
    be masked or replaced: not punctuation or whitespace) and which are whitespace."""

    words: Tuple[str, ...]
    spaces: Tuple[str, ...]
    is_word: np.ndarray
    is_space: np.ndarray

    @classmethod
    def from_doc(cls, doc: Doc) -> "Tokens":
        array = doc.to_array([ORTH, SPACY, IS_PUNCT, IS_SPACE]).reshape(-1, 4)
        strings = doc.vocab.strings
        return cls(words=tuple(strings[int(orth)] for orth in array[:, 0]),
                   spaces=tuple(" " if space else "" for space in array[:, 1]),
                   is_word=(array[:, 2] == 0) & (array[:, 3] == 0), is_space=array[:, 3] == 1)


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


def distributional_classes(
    sequences: Iterable[Sequence[str]], words: Set[str], *, n_classes: int = N_CLASSES, seed: int = 0
) -> Dict[str, str]:
    """Word classes in the manner of Schuetze (1995): each word is described by its left and
    right neighbours among the N_CONTEXTS most frequent tokens (positive PMI), reduced by SVD to
    N_DIMS; words seen at least MIN_COUNT times are clustered by spherical k-means, and every
    other word joins its nearest class. Deterministic for a seed."""
    sequences = [list(sequence) for sequence in sequences]
    counts = Counter(token for sequence in sequences for token in sequence)
    vocab = sorted(word for word in counts if word in words)
    frequent = np.array([counts[word] >= MIN_COUNT for word in vocab], dtype=bool)
    if not frequent.any():
        return {}
    contexts = [token for token, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:N_CONTEXTS]]
    boundary = len(contexts)  # the review's start or end
    word_ids, context_ids = {word: i for i, word in enumerate(vocab)}, {token: i for i, token in enumerate(contexts)}
    rows, cols = [-1], [boundary]
    for sequence in sequences:
        rows += [word_ids.get(token, -1) for token in sequence] + [-1]
        cols += [context_ids.get(token, -1) for token in sequence] + [boundary]
    rows, cols = np.array(rows), np.array(cols)
    width = 2 * (boundary + 1)
    left = (rows[1:] >= 0) & (cols[:-1] >= 0)
    right = (rows[:-1] >= 0) & (cols[1:] >= 0)
    cells = np.concatenate([rows[1:][left] * width + cols[:-1][left],
                            rows[:-1][right] * width + boundary + 1 + cols[1:][right]])
    matrix = np.bincount(cells, minlength=len(vocab) * width).reshape(len(vocab), width).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        features = np.log(matrix * (matrix.sum() / matrix.sum(1, keepdims=True)) / matrix.sum(0, keepdims=True))
    features[~(matrix > 0) | (features < 0)] = 0  # positive PMI
    # The top right singular vectors of the frequent words' features: eigenvectors of their Gram matrix.
    _, eigenvectors = np.linalg.eigh(features[frequent].T @ features[frequent])
    vectors = features @ eigenvectors[:, ::-1][:, :N_DIMS]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    described = norms[:, 0] > 0
    vectors = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    centroids = spherical_kmeans(vectors[frequent & described], min(n_classes, int((frequent & described).sum())),
                                 np.random.default_rng(seed))
    labels = np.argmax(vectors @ centroids.T, axis=1)
    return {word: f"class{labels[i]}" for i, word in enumerate(vocab) if described[i]}


def spherical_kmeans(vectors: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k unit centroids of unit vectors by cosine k-means, seeded by greedy k-means++ (of a few
    candidates drawn by distance, each seed is the one that brings the points closest)."""
    centroids = [vectors[rng.integers(len(vectors))]]
    distance = np.maximum(1 - vectors @ centroids[0], 0)
    for _ in range(1, k):
        if distance.sum() == 0:
            candidates = rng.integers(len(vectors), size=1)
        else:
            candidates = rng.choice(len(vectors), size=2 + int(np.log(k)), p=distance / distance.sum())
        distances = np.minimum(distance, np.maximum(1 - vectors[candidates] @ vectors.T, 0))
        best = int(np.argmin(distances.sum(axis=1)))
        centroids.append(vectors[candidates[best]])
        distance = distances[best]
    centroids = np.array(centroids)
    for _ in range(KMEANS_ITERATIONS):
        labels = np.argmax(vectors @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, labels, vectors)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        centroids = np.where(norms > 0, sums / np.where(norms > 0, norms, 1), centroids)  # empty: keep the old
    return centroids


def sudachi_tags(doc: Doc, tokens: Tokens) -> List[Optional[str]]:
    """SudachiPy's part of speech of each word and, for an inflecting word, its conjugation form
    (as spaCy's Japanese tokenizer sets them: TAG, and MORPH's Inflection=type;form)."""
    strings, tags = doc.vocab.strings, []
    for (tag, morph), word in zip(doc.to_array([TAG, MORPH]).reshape(-1, 2), tokens.is_word):
        if not (word and tag):
            tags.append(None)
            continue
        inflection = [feat for feat in strings[int(morph)].split("|") if feat.startswith("Inflection=")] if morph else []
        tags.append(f"{strings[int(tag)]}|{inflection[0].split(';')[-1] if inflection else ''}")
    return tags


def jieba_tags(tokens: Tokens, cache: Dict[str, Optional[str]]) -> List[Optional[str]]:
    """jieba.posseg's tag of each word: its dictionary tag, or for a word not in the dictionary
    the tag jieba's tagger gives it as one word; none for a word it splits or calls 'x'."""
    table, tags = jieba.posseg.dt.word_tag_tab, []
    for word, is_a_word in zip(tokens.words, tokens.is_word):
        if is_a_word and word not in cache:
            flags = [table[word]] if word in table else [pair.flag for pair in jieba.posseg.lcut(word)]
            cache[word] = flags[0] if len(flags) == 1 and flags[0] != "x" else None
        tags.append(cache[word] if is_a_word else None)
    return tags


def pipeline_tags(doc: Doc, tokens: Tokens, nlp: Language) -> List[Optional[str]]:
    """A trained pipeline's fine-grained tag, or POS and morphology where it has no tagger."""
    with_tagger = "tagger" in nlp.pipe_names
    return [(token.tag_ if with_tagger else f"{token.pos_}|{token.morph}") if word else None
            for token, word in zip(doc, tokens.is_word)]


def word_tags(
    lang: str, docs: Sequence[Doc], tables: Sequence[Tokens], tagger: Optional[Language], seed: int
) -> Tuple[List[List[Optional[str]]], str]:
    """Tags of every token of docs, and the name of the method that gave them."""
    if tagger is not None:
        name = f"{tagger.meta['lang']}_{tagger.meta['name']}"
        return [pipeline_tags(doc, tokens, tagger) for doc, tokens in zip(docs, tables)], f"tags of the pipeline {name}"
    if lang == "ja":
        method = "SudachiPy part of speech + conjugation form (no tagger installed)"
        return [sudachi_tags(doc, tokens) for doc, tokens in zip(docs, tables)], method
    if lang == "zh":
        cache: Dict[str, Optional[str]] = {}
        return [jieba_tags(tokens, cache) for tokens in tables], "jieba.posseg tags (no tagger installed)"
    words = {word for tokens in tables for word, is_a_word in zip(tokens.words, tokens.is_word) if is_a_word}
    sequences = ([word for word, space in zip(tokens.words, tokens.is_space) if not space] for tokens in tables)
    classes = distributional_classes(sequences, words, seed=seed)
    method = f"{len(set(classes.values()))} distributional word classes of train + pool (no tagger installed)"
    return [[classes.get(word) for word in tokens.words] for tokens in tables], method


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


def parse_taggers(spec: str) -> Dict[str, str]:
    """'de=de_core_news_sm en=en_core_web_sm' -> {lang: pipeline}."""
    taggers = {}
    for item in spec.split():
        lang, _, name = item.partition("=")
        if not lang or not name:
            raise DataError(f"augment_taggers: expected LANG=PIPELINE, got '{item}'")
        check_lang(lang)
        taggers[lang] = name
    return taggers


def load_tagger(lang: str, name: str) -> Language:
    """The named spaCy pipeline, which must be installed, of `lang`, with a tagger or morphologizer."""
    try:
        nlp = spacy.load(name, exclude=["parser", "ner", "lemmatizer"])
    except OSError:
        raise DataError(
            f"augment_taggers names '{name}' for {lang}, but no such spaCy pipeline is installed: install it "
            f"(python -m spacy download {name}) or remove it from augment_taggers to use the fallback"
        ) from None
    if nlp.lang != lang:
        raise DataError(f"augment_taggers: '{name}' is a pipeline for '{nlp.lang}', not '{lang}'")
    if not set(TAGGERS) & set(nlp.pipe_names):
        raise DataError(f"augment_taggers: '{name}' has no {' or '.join(TAGGERS)} (it has {nlp.pipe_names})")
    return nlp


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
