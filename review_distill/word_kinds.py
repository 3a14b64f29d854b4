"""Words of a kind, which the `augment` step may swap for each other: each word's tag from a spaCy
tagger, SudachiPy (ja), jieba (zh), or a distributional word class learnt from the language's
reviews (docs/method.md, "Augmentation")."""
from collections import Counter
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Set, Tuple

import jieba.posseg
import numpy as np
import spacy
from spacy.attrs import IS_PUNCT, IS_SPACE, MORPH, ORTH, SPACY, TAG
from spacy.language import Language
from spacy.tokens import Doc

from .errors import DataError
from .reviews import check_lang

MIN_COUNT = 5  # how often a word must occur in train + pool to be drawn as a replacement
# Distributional classes: neighbours among the N_CONTEXTS most frequent tokens, SVD to N_DIMS,
# N_CLASSES clusters.
N_CONTEXTS, N_DIMS, N_CLASSES, KMEANS_ITERATIONS = 300, 100, 60, 30
TAGGERS = ("tagger", "morphologizer")


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
