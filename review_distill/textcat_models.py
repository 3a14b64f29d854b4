"""The students' architectures: bag-of-words classifiers over the keys of extract_ngrams_batched
(textcat_ngrams), one with a deep averaging network beside its bag of words. Shipped in each
packaged pipeline with the component (textcat_distill). See docs/method.md, "The students' models"."""
from functools import partial
from typing import List, Optional, Tuple

from spacy.attrs import ORTH
from spacy.errors import Errors
from spacy.ml.models.textcat import NEG_VALUE, resize_and_set_ref
from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import (
    HashEmbed,
    Linear,
    Logistic,
    Model,
    Ragged,
    Relu,
    SparseLinear_v2,
    chain,
    reduce_mean,
    resizable,
    softmax_activation,
    with_array,
)
from thinc.layers.resizable import resize_linear_weighted
from thinc.types import Floats2d

from .textcat_ngrams import attr_id, extract_ngrams_batched


@registry.architectures("review_distill.TextCatBOWBatched.v2")
def build_batched_bow_text_classifier(
    exclusive_classes: bool,
    ngram_size: int,
    no_output_layer: bool,
    length: int = 262144,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """spaCy's TextCatBOW.v3 (same arguments, weights and scores), with its per-doc n-gram
    extraction replaced by extract_ngrams_batched and without its with_cpu wrappers."""
    sparse_linear = _sparse_linear(length, nO)
    fill_defaults = {"b": 0 if no_output_layer else NEG_VALUE, "W": 0}
    resizable_layer = resizable(sparse_linear, resize_layer=partial(resize_linear_weighted, fill_defaults=fill_defaults))
    output_layer = None if no_output_layer else softmax_activation() if exclusive_classes else Logistic()
    model = _build_bow_text_classifier(
        extract_ngrams_batched(ngram_size, attr=ORTH), sparse_linear, resizable_layer, output_layer, exclusive_classes
    )
    if nO is not None:
        model.set_dim("nO", nO)
    model.attrs["resize_output"] = partial(resize_and_set_ref, resizable_layer=resizable_layer)
    return model


@registry.architectures("review_distill.TextCatBOWBatched.v3")
def build_batched_bow_text_classifier_v3(
    ngram_size: int,
    length: int,
    attr: str = "LOWER",
    char_ngram_sizes: List[int] = [],
    normalize: bool = True,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """An exclusive bag-of-words classifier, TextCatBOWBatched.v2 with a choice of features:
    the 1- to ngram_size-grams of the tokens' `attr`, their character n-grams of the sizes in
    `char_ngram_sizes`, and with `normalize` each doc's keys weighted to about unit length."""
    sparse_linear = _sparse_linear(length, nO)
    features = extract_ngrams_batched(
        ngram_size, attr=attr_id(attr), char_ngram_sizes=tuple(char_ngram_sizes), normalize=normalize
    )
    return _build_bow_text_classifier(features, sparse_linear, sparse_linear, softmax_activation())


@registry.architectures("review_distill.TextCatBOWEmbed.v2")
def build_bow_embed_text_classifier_v2(
    ngram_size: int,
    length: int,
    embed_width: int,
    embed_rows: int,
    hidden_width: int,
    dropout: float,
    attr: str = "LOWER",
    char_ngram_sizes: List[int] = [],
    normalize: bool = True,
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """An exclusive classifier over the features of TextCatBOWBatched.v3, whose logits are the sum
    of two branches over the same keys: the bag-of-words linear layer, and the (unweighted) mean
    of the keys' hashed embeddings through a hidden ReLU layer and a linear layer (a deep
    averaging network); then a softmax."""
    features = extract_ngrams_batched(
        ngram_size, attr=attr_id(attr), char_ngram_sizes=tuple(char_ngram_sizes), normalize=normalize
    )
    sparse_linear = _sparse_linear(length, nO)
    dense = chain(
        with_array(HashEmbed(embed_width, embed_rows, seed=ngram_size)),
        reduce_mean(),
        Relu(hidden_width, dropout=dropout),
        Linear(nO),
    )
    branches: Model = Model(
        "bow_plus_dense", _sum_branches_forward, init=_sum_branches_init, layers=[sparse_linear, dense], dims={"nO": nO}
    )
    return _build_bow_text_classifier(features, sparse_linear, branches, softmax_activation())


def _sparse_linear(length: int, nO: Optional[int]) -> Model:
    """The bag of words' weights, as TextCatBOW.v3 makes them: `length` rows, rounded up to a
    power of 2."""
    if length < 1:
        raise ValueError(Errors.E1056.format(length=length))
    return SparseLinear_v2(nO=nO, length=2 ** (length - 1).bit_length())


def _build_bow_text_classifier(
    features: Model,
    sparse_linear: Model,
    scores: Model,
    output_layer: Optional[Model],
    exclusive_classes: bool = True,
) -> Model[List[Doc], Floats2d]:
    """features, then `scores` (the sparse linear layer, or a layer that holds it), then the output
    layer, if any. The model scores a doc without tokens: its keys are none."""
    model = chain(features, scores, *filter(None, [output_layer]))
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = not exclusive_classes
    model.attrs["scores_empty_docs"] = True
    return model


def ngram_ragged(X) -> Ragged:
    """The keys of extract_ngrams_batched's output, as a Ragged array of each doc's keys."""
    keys, _, lengths = X
    return Ragged(keys, lengths)


def dense_forward(dense: Model, X, is_train: bool):
    """The deep averaging network's logits for the keys X, and their backprop. Where no doc of
    the batch has a key, thinc's reduce_mean would give no columns: the mean is 0."""
    if len(X[0]):
        return dense(ngram_ragged(X), is_train)
    embed, _, *hidden = dense.layers
    Y = dense.ops.alloc2f(len(X[2]), embed.get_dim("nO"))
    backprops = []
    for layer in hidden:
        Y, backprop_layer = layer(Y, is_train)
        backprops.append(backprop_layer)

    def backprop(dY):
        for backprop_layer in reversed(backprops):
            dY = backprop_layer(dY)
        return dY

    return Y, backprop


def _sum_branches_forward(model: Model, X: Tuple, is_train: bool):
    sparse_linear, dense = model.layers
    Y_linear, backprop_linear = sparse_linear(X, is_train)
    Y_dense, backprop_dense = dense_forward(dense, X, is_train)

    def backprop(dY):
        backprop_linear(dY)
        backprop_dense(dY)
        return []

    return Y_linear + Y_dense, backprop


def _sum_branches_init(model: Model, X=None, Y=None) -> None:
    sparse_linear, dense = model.layers
    if Y is not None and model.has_dim("nO") is None:
        model.set_dim("nO", Y.shape[1])
    if model.has_dim("nO"):
        for layer in (sparse_linear, dense.layers[-1]):
            if layer.has_dim("nO") is None:
                layer.set_dim("nO", model.get_dim("nO"))
    sparse_linear.initialize(X, Y)
    dense.initialize(ngram_ragged(X) if X is not None else None, Y)
