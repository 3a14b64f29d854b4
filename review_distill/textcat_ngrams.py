"""The students' features: the hashed word n-grams of a batch of docs and the character n-grams of
their tokens, as keys for a sparse linear layer (spaCy's extract_ngrams, batched). Shipped in each
packaged pipeline with the component (textcat_distill)."""
from typing import Dict, List, Sequence, Tuple

import numpy
from spacy.attrs import IDS, ORTH
from spacy.strings import get_string_id
from spacy.tokens import Doc
from thinc.api import Model
from thinc.types import Floats2d, Ints1d

# XORed into the keys of the character n-grams, so that an n-gram's key is not the key of the
# word it spells (an odd 64-bit constant: a fractional part of a square root).
CHAR_NGRAM_SALT = numpy.uint64(0x510E527FADE682D1)


def extract_ngrams_batched(
    ngram_size: int, attr: int = ORTH, char_ngram_sizes: Tuple[int, ...] = (), normalize: bool = False
) -> Model[List[Doc], Tuple[Ints1d, Floats2d, Ints1d]]:
    """The hashed 1- to ngram_size-grams of each doc's `attr` values and the character n-grams of
    each token's `attr` string with the sizes in `char_ngram_sizes` (fastText's subwords: the
    string between "<" and ">", salted apart from the other keys), as (keys, values, lengths) for
    a sparse linear layer: the keys of doc i are the lengths[i] keys after those of the docs before
    it. A key that occurs k times in a doc is listed k times, where spaCy's extract_ngrams lists it
    once with the value k. Each key's value is 1, or with `normalize` 1 / sqrt(number of the doc's
    keys), so that a doc's vector of counts has about unit length, as TF-IDF's do."""
    model: Model = Model("extract_ngrams_batched", _extract_ngrams_batched_forward)
    model.attrs["ngram_size"] = ngram_size
    model.attrs["attr"] = attr
    # Always empty (once the keys of the tokens' other attributes): the weights files that the
    # component saves hold each layer's attrs, and keep it.
    model.attrs["unigram_attrs"] = []
    model.attrs["char_ngram_sizes"] = sorted(set(char_ngram_sizes))
    model.attrs["normalize"] = normalize
    return model


def attr_id(name: str) -> int:
    """RETURNS (int): The ID of spaCy's token attribute `name`, e.g. LOWER."""
    if name not in IDS:
        raise ValueError(f"unknown token attribute {name!r}: use one of spaCy's, e.g. ORTH, LOWER, NORM, SUFFIX")
    return IDS[name]


class CharNgramCache:
    """The salted keys of each string's character n-grams, computed once per string and shared
    by the models that use the same sizes (char_ngram_cache)."""

    # Cleared when it holds this many strings, so that a long stream of new words cannot fill memory.
    max_strings = 1_000_000

    def __init__(self, sizes: Sequence[int]) -> None:
        if not sizes or min(sizes) < 1:
            raise ValueError(f"character n-gram sizes must be positive, got {list(sizes)}")
        self.sizes = list(sizes)
        self.keys: Dict[int, numpy.ndarray] = {}

    def __call__(self, key: int, strings) -> numpy.ndarray:
        found = self.keys.get(key)
        if found is None:
            if len(self.keys) >= self.max_strings:
                self.keys.clear()
            ngrams = self.ngrams(strings[key])
            found = numpy.fromiter(map(get_string_id, ngrams), dtype="uint64", count=len(ngrams))
            found ^= CHAR_NGRAM_SALT
            self.keys[key] = found
        return found

    def ngrams(self, string: str) -> List[str]:
        """RETURNS (List[str]): The distinct character n-grams of "<string>", sorted, but the whole."""
        text = f"<{string}>"
        ngrams = {text[i : i + n] for n in self.sizes for i in range(len(text) - n + 1)}
        ngrams.discard(text)  # the whole word is a key of its own already
        return sorted(ngrams)

    def batch(self, tokens: numpy.ndarray, strings) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """RETURNS: the keys of all tokens' character n-grams, token after token, and their
        number per token."""
        unique, inverse = numpy.unique(tokens, return_inverse=True)
        per_string = [self(key, strings) for key in unique.tolist()]
        counts = numpy.fromiter(map(len, per_string), dtype="int64", count=len(per_string))
        flat = numpy.concatenate(per_string) if per_string else numpy.zeros((0,), dtype="uint64")
        token_counts = counts[inverse]
        token_starts = (numpy.cumsum(counts) - counts)[inverse]
        offsets = numpy.repeat(token_starts - (numpy.cumsum(token_counts) - token_counts), token_counts)
        return flat[offsets + numpy.arange(len(offsets))], token_counts


_CHAR_NGRAM_CACHES: Dict[Tuple[int, ...], CharNgramCache] = {}


def char_ngram_cache(sizes: Sequence[int]) -> CharNgramCache:
    """The one CharNgramCache of these sizes."""
    sizes = tuple(sizes)
    if sizes not in _CHAR_NGRAM_CACHES:
        _CHAR_NGRAM_CACHES[sizes] = CharNgramCache(sizes)
    return _CHAR_NGRAM_CACHES[sizes]


def _extract_ngrams_batched_forward(model: Model, docs: List[Doc], is_train: bool):
    ops = model.ops
    ngram_size = model.attrs["ngram_size"]
    unigrams = [doc.to_array(model.attrs["attr"]) for doc in docs]
    n_tokens = numpy.fromiter(map(len, unigrams), dtype="int64", count=len(docs))
    tokens = numpy.concatenate(unigrams).astype("uint64", copy=False) if unigrams else numpy.zeros((0,), dtype="uint64")
    # Row i holds the 1- to ngram_size-grams that start at token i; the n-grams that would run
    # past the end of its doc are masked out. Read row by row, the keys come doc by doc.
    ngrams = numpy.zeros((len(tokens), ngram_size), dtype="uint64")
    ngrams[:, 0] = tokens
    for n in range(2, min(ngram_size, len(tokens)) + 1):
        ngrams[: len(tokens) - n + 1, n - 1] = ops.ngrams(n, tokens)  # hashes of tokens[i : i + n]
    tokens_to_doc_end = numpy.repeat(numpy.cumsum(n_tokens), n_tokens) - numpy.arange(len(tokens))
    keys = ngrams[tokens_to_doc_end[:, None] >= numpy.arange(1, ngram_size + 1)]
    n_keys = numpy.maximum(n_tokens[:, None] - numpy.arange(ngram_size), 0).sum(axis=1)
    char_ngram_sizes = model.attrs.get("char_ngram_sizes")
    if char_ngram_sizes and len(tokens):
        char_keys, per_token = char_ngram_cache(char_ngram_sizes).batch(tokens, docs[0].vocab.strings)
        doc_of_token = numpy.repeat(numpy.arange(len(docs)), n_tokens)
        # Each doc's character n-grams go after its other keys: a stable sort by doc.
        doc_of_key = numpy.concatenate([numpy.repeat(numpy.arange(len(docs)), n_keys), numpy.repeat(doc_of_token, per_token)])
        keys = numpy.concatenate([keys, char_keys])[numpy.argsort(doc_of_key, kind="stable")]
        n_keys = n_keys + numpy.bincount(doc_of_token, weights=per_token, minlength=len(docs)).astype("int64")
    batch_keys = ops.asarray(keys, dtype="uint64")
    lengths = ops.asarray(n_keys, dtype="int32")
    if model.attrs.get("normalize"):
        batch_values = ops.asarray1f(numpy.repeat(1.0 / numpy.sqrt(numpy.maximum(n_keys, 1)), n_keys))
    else:
        batch_values = ops.alloc1f(len(batch_keys)) + 1.0

    def backprop(d_output):
        return []

    return (batch_keys, batch_values, lengths), backprop
