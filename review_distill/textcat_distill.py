"""`textcat_distill`: an exclusive text classifier that learns from a teacher's soft labels.

spaCy's `textcat` only accepts cats of 0.0 or 1.0 (error E851). `DistillTextCategorizer`
subclasses its `TextCategorizer`: it predicts, sets `doc.cats` and scores like it, and takes the
teacher's probabilities in `doc.cats` as training data, with the losses "ce", "mse" and
"logit_mse" and an optional gold term (`alpha`). The module also registers the students'
bag-of-words architectures, their character and encodable tokenizers, and `explain`.

It ships inside each packaged pipeline (`spacy package --code`), so it imports nothing but spaCy,
thinc, numpy and the standard library. The method: docs/method.md, "The distillation component"."""
import math
import numbers
import re
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.attrs import ORTH
from spacy.errors import Errors
from spacy.language import Language
from spacy.ml.models.textcat import NEG_VALUE, resize_and_set_ref
from spacy.pipeline.textcat import DEFAULT_SINGLE_TEXTCAT_MODEL, TextCategorizer, textcat_score
from spacy.strings import get_string_id
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from spacy.util import DummyTokenizer, registry
from spacy.vocab import Vocab
from thinc.api import (
    HashEmbed,
    Linear,
    Logistic,
    Model,
    Ragged,
    Relu,
    SparseLinear_v2,
    chain,
    get_array_module,
    reduce_mean,
    resizable,
    softmax_activation,
    with_array,
)
from thinc.layers.resizable import resize_linear_weighted
from thinc.types import Floats2d, Ints1d

LOSSES = ("ce", "mse", "logit_mse")
# How far a row of cats may sum from 1.
SUM_TOLERANCE = 1e-4
# Floor for probabilities that are divided by or logged.
MIN_PROB = 1e-30
# Output layers whose backprop takes the gradient w.r.t. the probabilities (applying
# the softmax Jacobian) or w.r.t. the logits.
PROB_HEAD = "softmax_activation"
LOGIT_HEAD = "softmax"
GOLD_KEY = "gold_label"
LOGITS_KEY = "teacher_logits"


def make_textcat_distill(
    nlp: Language,
    name: str,
    model: Model[List[Doc], List[Floats2d]],
    threshold: float,
    scorer: Optional[Callable],
    loss: str,
    temperature: float,
    alpha: float,
) -> "DistillTextCategorizer":
    return DistillTextCategorizer(
        nlp.vocab,
        model,
        name,
        threshold=threshold,
        scorer=scorer,
        loss=loss,
        temperature=temperature,
        alpha=alpha,
    )


# Each packaged pipeline of this project carries a copy of this module. spaCy refuses a second
# factory of the same name from another file (E004), so only the first copy imported registers
# it and the others use that one: two of the packages can be loaded in one process.
if not Language.has_factory("textcat_distill"):
    Language.factory(
        "textcat_distill",
        assigns=["doc.cats"],
        default_config={
            "threshold": 0.0,
            "model": DEFAULT_SINGLE_TEXTCAT_MODEL,
            "scorer": {"@scorers": "spacy.textcat_scorer.v2"},
            "loss": "ce",
            "temperature": 1.0,
            "alpha": 0.0,
        },
        default_score_weights={
            "cats_score": 1.0,
            "cats_score_desc": None,
            "cats_micro_p": None,
            "cats_micro_r": None,
            "cats_micro_f": None,
            "cats_macro_p": None,
            "cats_macro_r": None,
            "cats_macro_f": None,
            "cats_macro_auc": None,
            "cats_f_per_type": None,
        },
    )(make_textcat_distill)


class DistillTextCategorizer(TextCategorizer):
    """Single-label text classifier trained on soft labels (a teacher's probabilities).

    Inference, scoring and serialization are those of spaCy's TextCategorizer; only setting
    doc.cats is done a row at a time, with the same values.
    """

    def __init__(
        self,
        vocab: Vocab,
        model: Model,
        name: str = "textcat_distill",
        *,
        threshold: float,
        scorer: Optional[Callable] = textcat_score,
        loss: str = "ce",
        temperature: float = 1.0,
        alpha: float = 0.0,
    ) -> None:
        """Initialize a text categorizer that learns from soft labels.

        vocab (Vocab): The shared vocabulary.
        model (thinc.api.Model): The Thinc Model powering the pipeline component. Its
            output layer must be softmax_activation or a parametric Softmax.
        name (str): The component instance name, used to add entries to the
            losses during training.
        threshold (float): Unused, as in TextCategorizer.
        scorer (Optional[Callable]): The scoring method, TextCategorizer's by default.
        loss (str): "ce" (cross-entropy with temperature), "mse" (spaCy's textcat loss) or
            "logit_mse" (squared distance of the logits).
        temperature (float): The softmax temperature T > 0 of the "ce" loss.
        alpha (float): The weight in [0, 1] of the cross-entropy against a doc's gold
            label (doc.user_data["gold_label"]), where it has one.
        """
        if loss not in LOSSES:
            raise ValueError(f"textcat_distill: loss must be one of {', '.join(LOSSES)}, not {loss!r}")
        if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature > 0):
            raise ValueError(f"textcat_distill: temperature must be a number > 0, not {temperature!r}")
        if not (isinstance(alpha, (int, float)) and 0.0 <= alpha <= 1.0):
            raise ValueError(f"textcat_distill: alpha must be a number in [0, 1], not {alpha!r}")
        super().__init__(vocab, model, name, threshold=threshold, scorer=scorer)
        self.loss = loss
        self.temperature = float(temperature)
        self.alpha = float(alpha)
        self.output_head = self._output_head()  # fails early on a model this component cannot train

    def _output_head(self) -> str:
        """RETURNS (str): The name of the model's output layer: PROB_HEAD, LOGIT_HEAD, or with
        loss "mse" and alpha 0 any other."""
        layer = self.model
        while True:
            if len(layer.layers) > 1 and layer.name == ">>".join(sub.name for sub in layer.layers):
                layer = layer.layers[-1]  # a chain: its output is its last layer's
            elif len(layer.layers) == 1 and layer.name.startswith(("with_cpu(", "resizable(")):
                layer = layer.layers[0]
            else:
                break
        if layer.name == PROB_HEAD:
            return PROB_HEAD
        if layer.name == LOGIT_HEAD and layer.attrs.get("softmax_temperature", 1.0) == 1.0:
            return LOGIT_HEAD
        if self.loss == "mse" and self.alpha == 0.0:
            return layer.name  # spaCy's loss: its gradient goes to any output layer as it is
        raise ValueError(
            f"textcat_distill: the model's output layer is {layer.name!r} (attrs {layer.attrs}); "
            f"loss {self.loss!r} (alpha {self.alpha}) needs '{PROB_HEAD}' (e.g. spacy.TextCatBOW.v3 with "
            f"exclusive_classes = true and no_output_layer = false) or a parametric '{LOGIT_HEAD}' layer "
            "with temperature 1 (spacy.TextCatEnsemble.v2, spacy.TextCatReduce.v1 with exclusive_classes "
            "= true). For another output layer use loss = \"mse\" and alpha = 0, spaCy's textcat loss; "
            "for labels that are not exclusive, spaCy's textcat_multilabel."
        )

    def predict(self, docs: Iterable[Doc]):
        """Apply the model to a batch of docs, as TextCategorizer.predict does, except that a doc
        without tokens gets a probability distribution (TextCategorizer's gives a batch of such
        docs zeros): the model's prior where its architecture scores empty docs (attrs
        "scores_empty_docs", the architectures of this module), else what it gives a
        whitespace-only text (spaCy's architectures fail on a doc without tokens).

        docs (Iterable[Doc]): The documents to predict.
        RETURNS: The model's prediction for each document.
        """
        docs = list(docs)
        if not self.model.attrs.get("scores_empty_docs", False) and not all(len(doc) for doc in docs):
            docs = [doc if len(doc) else Doc(self.vocab, words=[" "], spaces=[False]) for doc in docs]
        return self.model.ops.asarray(self.model.predict(docs))

    def set_annotations(self, docs: Iterable[Doc], scores) -> None:
        """Set doc.cats to the same values as TextCategorizer does, a doc's row of scores at
        a time instead of one score at a time (faster; docs/results.md).

        docs (Iterable[Doc]): The documents to modify.
        scores: The scores to set, produced by TextCategorizer.predict.
        """
        labels = self.labels
        for doc, row in zip(docs, scores.tolist()):
            doc.cats.update(zip(labels, row))

    def get_loss(self, examples: Iterable[Example], scores) -> Tuple[float, Floats2d]:
        """Find the loss and gradient of loss for the batch of documents and
        their predicted scores.

        examples (Iterable[Examples]): The batch of examples, with soft cats.
        scores: Scores representing the model's predictions (probabilities).
        RETURNS (Tuple[float, Floats2d]): The loss (mean over the docs) and the
            gradient (of the sum over the docs) in the form the output layer expects.
        """
        validate_examples(examples, "DistillTextCategorizer.get_loss")
        examples = list(examples)
        self._validate_categories(examples)
        xp = self.model.ops.xp
        truths, annotated = self._examples_to_truth(examples)
        gold, has_gold = self._examples_to_gold(examples)
        q = xp.asarray(scores, dtype="float64")
        p = xp.asarray(truths, dtype="float64")
        y = xp.asarray(gold, dtype="float64")
        w_hard = self.alpha * xp.asarray(has_gold, dtype="float64")[:, None]
        w_distill = (1.0 - w_hard) * xp.asarray(annotated, dtype="float64")[:, :1]
        # The hard term (at T = 1), its gradient w.r.t. the logits.
        losses = w_hard[:, 0] * _cross_entropy(y, q)
        d_logits = w_hard * (q - y)
        d_probs = xp.zeros_like(q)
        if self.loss == "ce":
            T = self.temperature
            q_T, p_T = _soften(q, T), _soften(p, T)
            losses += w_distill[:, 0] * T**2 * _cross_entropy(p_T, q_T)
            d_logits += w_distill * T * (q_T - p_T)
        elif self.loss == "logit_mse":
            z = xp.asarray(self._examples_to_logits(examples, truths), dtype="float64")
            d = _centred(xp.log(xp.maximum(q, MIN_PROB))) - _centred(z)
            losses += w_distill[:, 0] * 0.5 * (d**2).sum(axis=1)
            d_logits += w_distill * d
        else:
            # spaCy's textcat loss and gradient, handed to either head as they are.
            losses += w_distill[:, 0] * ((q - p) ** 2).mean(axis=1)
            d_probs += w_distill * (q - p)
        if self.output_head == PROB_HEAD:
            d_scores = d_probs + d_logits / xp.maximum(q, MIN_PROB)
        elif self.output_head != LOGIT_HEAD:
            d_scores = d_probs  # loss "mse", alpha 0: spaCy's textcat loss, for any output layer
        else:
            d_scores = d_probs + d_logits
        return float(losses.mean()), self.model.ops.asarray(d_scores, dtype=scores.dtype)

    def initialize(
        self,
        get_examples: Callable[[], Iterable[Example]],
        *,
        nlp: Optional[Language] = None,
        labels: Optional[Iterable[str]] = None,
        positive_label: Optional[str] = None,
    ) -> None:
        """Initialize the pipe for training, as TextCategorizer.initialize does, then
        check every example's cats and gold label against the labels.

        get_examples (Callable[[], Iterable[Example]]): Function that
            returns a representative sample of Example objects with soft cats.
        nlp (Language): The current nlp object the component is part of.
        labels (Optional[Iterable[str]]): The labels to add to the component.
        positive_label (Optional[str]): The positive label for a binary task.
        """
        super().initialize(get_examples, nlp=nlp, labels=labels, positive_label=positive_label)
        for example in get_examples():
            self._check_labels(example)

    def _validate_categories(self, examples: Iterable[Example]) -> None:
        """Check that every example's cats are probabilities that sum to 1, or to at most 1 where
        labels are missing (instead of TextCategorizer's check for 0/1 values, E851), and that its
        gold label, if any, is one of its cats. A doc without cats is missing annotation."""
        for eg in examples:
            cats = eg.reference.cats
            for label, value in cats.items():
                if not (isinstance(value, numbers.Real) and 0.0 <= value <= 1.0):
                    raise ValueError(
                        f"textcat_distill: {_describe(eg)} has cats {dict(cats)}: "
                        f"the value {value!r} of {label!r} is not a probability in [0, 1]"
                    )
            total = sum(cats.values())
            complete = set(self.labels) <= set(cats)
            if cats and (total > 1.0 + SUM_TOLERANCE or (complete and total < 1.0 - SUM_TOLERANCE)):
                raise ValueError(
                    f"textcat_distill: {_describe(eg)} has cats {dict(cats)} summing to {total:.6g}; "
                    "the labels are exclusive, so they must sum to 1"
                )
            gold_label = eg.reference.user_data.get(GOLD_KEY)
            if gold_label is not None and gold_label not in cats:
                raise ValueError(
                    f"textcat_distill: {_describe(eg)} has the gold label {gold_label!r} "
                    f"(user_data['{GOLD_KEY}']), which is not among its cats {dict(cats)}"
                )

    def _check_labels(self, eg: Example) -> None:
        """Check that an example has cats for none but the component's labels."""
        cats = eg.reference.cats
        unknown = [label for label in cats if label not in self.labels]
        if unknown:
            raise ValueError(
                f"textcat_distill: {_describe(eg)} has cats {dict(cats)} with the unknown label(s) "
                f"{unknown}; the component's labels are {list(self.labels)}"
            )

    def _examples_to_truth(self, examples: Iterable[Example]) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): Each doc's probabilities per label, and
        per doc and label 1.0 where the doc is annotated, 0.0 where it is not. A label missing from
        a doc's cats gets 0 where the others sum to 1, or the rest where it is the only one
        missing; a doc without cats, or whose cats leave several labels to share the rest, is
        missing annotation."""
        examples = list(examples)
        truths = numpy.zeros((len(examples), len(self.labels)), dtype="f")
        annotated = numpy.zeros((len(examples), len(self.labels)), dtype="f")
        for i, eg in enumerate(examples):
            self._check_labels(eg)
            cats = eg.reference.cats
            missing = [j for j, label in enumerate(self.labels) if label not in cats]
            rest = 1.0 - sum(cats.values())
            if not cats or (abs(rest) > SUM_TOLERANCE and len(missing) > 1):
                continue
            truths[i] = [cats.get(label, 0.0) for label in self.labels]
            if len(missing) == 1 and abs(rest) > SUM_TOLERANCE:
                truths[i, missing[0]] = rest
            annotated[i] = 1.0
        return self.model.ops.asarray(truths), annotated

    def _examples_to_logits(self, examples: Iterable[Example], truths) -> numpy.ndarray:
        """RETURNS (numpy.ndarray): The teacher's logits per doc and label: user_data[LOGITS_KEY]
        where a doc has them, else the log of its cats (`truths`)."""
        logits = numpy.log(numpy.maximum(numpy.asarray(truths, dtype="float64"), MIN_PROB))
        for i, eg in enumerate(examples):
            teacher_logits = eg.reference.user_data.get(LOGITS_KEY)
            if teacher_logits is not None:
                logits[i] = [teacher_logits[label] for label in self.labels]
        return logits

    def _examples_to_gold(self, examples: Iterable[Example]) -> Tuple[numpy.ndarray, numpy.ndarray]:
        """RETURNS (Tuple[numpy.ndarray, numpy.ndarray]): One-hot gold labels (a row of
        zeros where a doc has none) and whether each doc has one (1.0 or 0.0)."""
        examples = list(examples)
        gold = numpy.zeros((len(examples), len(self.labels)), dtype="f")
        has_gold = numpy.zeros((len(examples),), dtype="f")
        for i, eg in enumerate(examples):
            gold_label = eg.reference.user_data.get(GOLD_KEY)
            if gold_label is not None:
                gold[i, self.labels.index(gold_label)] = 1.0
                has_gold[i] = 1.0
        return gold, has_gold


def _centred(logits):
    return logits - logits.mean(axis=1, keepdims=True)


def _soften(probs, temperature: float):
    """softmax(log probs / T), computed as probs ** (1 / T), normalized: exact at zeros."""
    if temperature == 1.0:
        return probs
    powered = probs ** (1.0 / temperature)
    return powered / powered.sum(axis=1, keepdims=True)


def _cross_entropy(target, probs):
    """Per row: -sum(target * log(probs)), probabilities floored at MIN_PROB."""
    xp = get_array_module(probs)
    return -(target * xp.log(xp.maximum(probs, MIN_PROB))).sum(axis=1)


def _describe(eg: Example) -> str:
    """The doc of an example, as an error message names it."""
    text = eg.reference.text
    doc_id = eg.reference.user_data.get("id")
    shown = repr(text if len(text) <= 60 else text[:57] + "...")
    return f"the doc {doc_id!r} ({shown})" if doc_id is not None else f"the doc {shown}"


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
    if length < 1:
        raise ValueError(Errors.E1056.format(length=length))
    sparse_linear = SparseLinear_v2(nO=nO, length=2 ** (length - 1).bit_length())  # rounded up as TextCatBOW.v3 does
    fill_defaults = {"b": 0 if no_output_layer else NEG_VALUE, "W": 0}
    resizable_layer = resizable(sparse_linear, resize_layer=partial(resize_linear_weighted, fill_defaults=fill_defaults))
    layers = [extract_ngrams_batched(ngram_size, attr=ORTH), resizable_layer]
    if not no_output_layer:
        layers.append(softmax_activation() if exclusive_classes else Logistic())
    model = chain(*layers)
    if nO is not None:
        model.set_dim("nO", nO)
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = not exclusive_classes
    model.attrs["scores_empty_docs"] = True
    model.attrs["resize_output"] = partial(resize_and_set_ref, resizable_layer=resizable_layer)
    return model


@registry.architectures("review_distill.TextCatBOWEmbed.v1")
def build_bow_embed_text_classifier(
    ngram_size: int,
    length: int,
    embed_width: int,
    embed_rows: int,
    hidden_width: int,
    dropout: float,
    attr: str = "ORTH",
    unigram_attrs: List[str] = [],
    nO: Optional[int] = None,
) -> Model[List[Doc], Floats2d]:
    """An exclusive classifier whose logits are the sum of two branches over the same hashed
    features, the 1- to ngram_size-grams of the tokens' `attr` and the tokens' `unigram_attrs`
    (e.g. SUFFIX): the bag-of-words linear layer of TextCatBOWBatched.v2, and the mean of the
    features' hashed embeddings through a hidden ReLU layer and a linear layer (a deep averaging
    network); then a softmax. See docs/method.md, "The students' models"."""
    if length < 1:
        raise ValueError(Errors.E1056.format(length=length))
    if len(unigram_attrs) > len(ATTR_SALTS):
        raise ValueError(f"at most {len(ATTR_SALTS)} unigram_attrs, got {unigram_attrs}")
    attr_ids = [_attr_id(name) for name in (attr, *unigram_attrs)]
    features = extract_ngrams_batched(ngram_size, attr=attr_ids[0], unigram_attrs=attr_ids[1:])
    return _bow_plus_dan(features, length, embed_width, embed_rows, hidden_width, dropout, ngram_size, nO)


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
    if length < 1:
        raise ValueError(Errors.E1056.format(length=length))
    sparse_linear = SparseLinear_v2(nO=nO, length=2 ** (length - 1).bit_length())
    features = extract_ngrams_batched(
        ngram_size, attr=_attr_id(attr), char_ngram_sizes=tuple(char_ngram_sizes), normalize=normalize
    )
    model = chain(features, sparse_linear, softmax_activation())
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = False
    model.attrs["scores_empty_docs"] = True
    return model


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
    """TextCatBOWEmbed.v1 over the features of TextCatBOWBatched.v3: the bag of words and a deep
    averaging network over the same keys (the DAN's mean is unweighted)."""
    if length < 1:
        raise ValueError(Errors.E1056.format(length=length))
    features = extract_ngrams_batched(
        ngram_size, attr=_attr_id(attr), char_ngram_sizes=tuple(char_ngram_sizes), normalize=normalize
    )
    return _bow_plus_dan(features, length, embed_width, embed_rows, hidden_width, dropout, ngram_size, nO)


def _bow_plus_dan(features: Model, length: int, embed_width: int, embed_rows: int, hidden_width: int,
                  dropout: float, seed: int, nO: Optional[int]) -> Model[List[Doc], Floats2d]:
    """features, then the sum of a sparse linear layer's and a deep averaging network's logits over
    its keys, then a softmax."""
    sparse_linear = SparseLinear_v2(nO=nO, length=2 ** (length - 1).bit_length())
    dense = chain(
        with_array(HashEmbed(embed_width, embed_rows, seed=seed)),
        reduce_mean(),
        Relu(hidden_width, dropout=dropout),
        Linear(nO),
    )
    branches: Model = Model(
        "bow_plus_dense", _sum_branches_forward, init=_sum_branches_init, layers=[sparse_linear, dense], dims={"nO": nO}
    )
    model = chain(features, branches, softmax_activation())
    model.set_ref("output_layer", sparse_linear)
    model.attrs["multi_label"] = False
    model.attrs["scores_empty_docs"] = True
    return model


def _attr_id(name: str) -> int:
    from spacy.attrs import IDS

    if name not in IDS:
        raise ValueError(f"unknown token attribute {name!r}: use one of spaCy's, e.g. ORTH, LOWER, NORM, SUFFIX")
    return IDS[name]


def _ngram_ragged(X) -> Ragged:
    keys, _, lengths = X
    return Ragged(keys, lengths)


def _sum_branches_forward(model: Model, X, is_train: bool):
    sparse_linear, dense = model.layers
    Y_linear, backprop_linear = sparse_linear(X, is_train)
    if len(X[0]):
        Y_dense, backprop_dense = dense(_ngram_ragged(X), is_train)
    else:  # no doc of the batch has a key, and thinc's reduce_mean would give no columns: the mean is 0
        embed, _, *hidden = dense.layers
        Y_dense, backprop_dense = chain(*hidden)(model.ops.alloc2f(len(X[2]), embed.get_dim("nO")), is_train)

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
    dense.initialize(_ngram_ragged(X) if X is not None else None, Y)


def extract_ngrams_batched(
    ngram_size: int,
    attr: int = ORTH,
    unigram_attrs: Tuple[int, ...] = (),
    char_ngram_sizes: Tuple[int, ...] = (),
    normalize: bool = False,
) -> Model[List[Doc], Tuple[Ints1d, Floats2d, Ints1d]]:
    """The hashed 1- to ngram_size-grams of each doc's `attr` values, each token's
    `unigram_attrs` values, and the character n-grams of each token's `attr` string with the
    sizes in `char_ngram_sizes` (fastText's subwords: the string between "<" and ">"; each kind
    of key salted apart from the others), as (keys, values, lengths) for a sparse linear layer:
    the keys of doc i are the lengths[i] keys after those of the docs before it. A key that
    occurs k times in a doc is listed k times, where spaCy's extract_ngrams lists it once with
    the value k. Each key's value is 1, or with `normalize` 1 / sqrt(number of the doc's keys),
    so that a doc's vector of counts has about unit length, as TF-IDF's do."""
    model: Model = Model("extract_ngrams_batched", _extract_ngrams_batched_forward)
    model.attrs["ngram_size"] = ngram_size
    model.attrs["attr"] = attr
    model.attrs["unigram_attrs"] = list(unigram_attrs)
    model.attrs["char_ngram_sizes"] = sorted(set(char_ngram_sizes))
    model.attrs["normalize"] = normalize
    return model


# XORed into the keys of the unigram_attrs, one salt each, so that a suffix's key is not the key
# of the word it spells (odd 64-bit constants: the fractional parts of sqrt(2), sqrt(3), ...);
# the next such constant salts the character n-grams.
ATTR_SALTS = [numpy.uint64(0x6A09E667F3BCC909), numpy.uint64(0xBB67AE8584CAA73B), numpy.uint64(0x3C6EF372FE94F82B),
              numpy.uint64(0xA54FF53A5F1D36F1)]
CHAR_NGRAM_SALT = numpy.uint64(0x510E527FADE682D1)


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
    extra = model.attrs.get("unigram_attrs", [])
    if extra:
        arrays = [doc.to_array([model.attrs["attr"], *extra]) for doc in docs]
        n_tokens = numpy.fromiter(map(len, arrays), dtype="int64", count=len(docs))
        values = numpy.concatenate(arrays).astype("uint64", copy=False) if arrays else numpy.zeros((0, 1 + len(extra)), dtype="uint64")
        tokens = numpy.ascontiguousarray(values[:, 0])
    else:
        unigrams = [doc.to_array(model.attrs["attr"]) for doc in docs]
        n_tokens = numpy.fromiter(map(len, unigrams), dtype="int64", count=len(docs))
        tokens = numpy.concatenate(unigrams).astype("uint64", copy=False) if unigrams else numpy.zeros((0,), dtype="uint64")
    # Row i holds the 1- to ngram_size-grams that start at token i, then token i's other
    # attributes; the n-grams that would run past the end of its doc are masked out. Read row by
    # row, the keys come doc by doc.
    ngrams = numpy.zeros((len(tokens), ngram_size + len(extra)), dtype="uint64")
    ngrams[:, 0] = tokens
    for n in range(2, min(ngram_size, len(tokens)) + 1):
        ngrams[: len(tokens) - n + 1, n - 1] = ops.ngrams(n, tokens)  # hashes of tokens[i : i + n]
    for j in range(len(extra)):
        ngrams[:, ngram_size + j] = values[:, 1 + j] ^ ATTR_SALTS[j]
    tokens_to_doc_end = numpy.repeat(numpy.cumsum(n_tokens), n_tokens) - numpy.arange(len(tokens))
    within_doc = tokens_to_doc_end[:, None] >= numpy.concatenate(
        [numpy.arange(1, ngram_size + 1), numpy.ones(len(extra), dtype="int64")]
    )
    keys = ngrams[within_doc]
    n_keys = numpy.maximum(n_tokens[:, None] - numpy.arange(ngram_size), 0).sum(axis=1) + n_tokens * len(extra)
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


# The CJK characters that both the students' and the teacher's tokenizers (teacher_functions.py) make
# tokens of their own: CJK punctuation (not the ideographic space), kana and CJK ideographs.
CJK_BLOCKS = "\u3001-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# The students' CJK characters: those, and katakana extensions, halfwidth katakana and the ideographs
# beyond the Basic Multilingual Plane.
CJK_CHARS = CJK_BLOCKS + "\u31f0-\u31ff\uff66-\uff9f\U00020000-\U0003134f"
# A CJK character; a run of other letters and digits (a Latin word, a number); any other
# character but whitespace (punctuation, a symbol, an emoji).
CHAR_TOKEN = re.compile(rf"[{CJK_CHARS}]|[^\W_{CJK_CHARS}]+|\S")


class CharTokenizer(DummyTokenizer):
    """One token per CJK character, per run of other letters and digits, and per other
    non-space character; whitespace as spaCy's tokenizer keeps it (a single space after a
    token is its trailing whitespace, other whitespace a token of its own). It aligns the
    tokens as spaCy's get_words_and_spaces does, from the regex's own offsets, in one pass:
    that function searches each word in a copy of the rest of the text."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words: List[str] = []
        spaces: List[bool] = []
        end = 0
        for match in CHAR_TOKEN.finditer(text):
            _add_whitespace(text[end : match.start()], words, spaces)
            words.append(match.group())
            spaces.append(False)
            end = match.end()
        _add_whitespace(text[end:], words, spaces)
        return Doc(self.vocab, words=words, spaces=spaces)


def _add_whitespace(gap: str, words: List[str], spaces: List[bool]) -> None:
    """Attach the whitespace between two tokens: its first space to the token before, the
    rest as a token."""
    if gap and words and gap[0] == " ":
        spaces[-1] = True
        gap = gap[1:]
    if gap:
        words.append(gap)
        spaces.append(False)


@registry.tokenizers("review_distill.char_tokenizer.v1")
def create_char_tokenizer() -> Callable[[Language], CharTokenizer]:
    """The character tokenizer (CharTokenizer) for a pipeline's [nlp.tokenizer]."""

    def make_tokenizer(nlp: Language) -> CharTokenizer:
        return CharTokenizer(nlp.vocab)

    return make_tokenizer


# What UTF-8 cannot encode, and so spaCy cannot store: a surrogate code point on its own (half of
# an emoji cut from JSON, "\ud83d").
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    """RETURNS (str): text with each lone surrogate replaced by U+FFFD: as long as text, so
    character offsets into it hold."""
    if text.isascii():
        return text
    try:
        text.encode("utf8")
    except UnicodeEncodeError:
        return LONE_SURROGATE.sub("\ufffd", text)
    return text


class EncodableTokenizer:
    """A tokenizer that gives its wrapped tokenizer the text with lone surrogates replaced
    (`encodable`), where spaCy's tokenizers raise UnicodeEncodeError. Everything else (vocab,
    serialization) is the wrapped tokenizer's."""

    def __init__(self, tokenizer: Callable[[str], Doc]) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: str) -> Doc:
        try:
            return self.tokenizer(text)  # costs nothing on the texts that need nothing
        except UnicodeEncodeError:
            return self.tokenizer(encodable(text))

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterable[Doc]:
        for text in texts:
            yield self(text)

    def __getattr__(self, name: str):
        if name == "tokenizer":  # not set yet, e.g. while unpickling
            raise AttributeError(name)
        return getattr(self.tokenizer, name)


@registry.tokenizers("review_distill.encodable_tokenizer.v1")
def create_encodable_tokenizer(
    tokenizer: Callable[[Language], Callable[[str], Doc]]
) -> Callable[[Language], EncodableTokenizer]:
    """The tokenizer `tokenizer` (e.g. {"@tokenizers": "spacy.Tokenizer.v1"}) wrapped in an
    EncodableTokenizer, for a pipeline's [nlp.tokenizer]."""

    def make_tokenizer(nlp: Language) -> EncodableTokenizer:
        return EncodableTokenizer(tokenizer(nlp))

    return make_tokenizer


@dataclass
class Contribution:
    """What one feature of a text adds to the logit difference of an Explanation.

    feature (str): The n-gram as the text spells it where it first occurs; a character n-gram
        as it is hashed ("<" and ">" mark the token's ends); for "dense", a description.
    kind (str): "ngram", "char_ngram", or "dense": the non-linear branch of a model, exact as a
        whole and not split over the features.
    weight (float): Its contribution to logit(label) - logit(other), all occurrences together.
    spans (List[Tuple[int, int]]): The character offsets (start, end) of each occurrence in the
        text; a character n-gram's are those of its token.
    """

    feature: str
    kind: str
    weight: float
    spans: List[Tuple[int, int]] = field(default_factory=list)


@dataclass
class Explanation:
    """Why the student scored a text as it did: bias + the contributions' weights + rest ==
    logit_diff, the student's logit(label) - logit(other), exactly but for float rounding.

    text (str): The text explained.
    label (str): The label explained, by default the predicted one.
    other (str): The label it is weighed against, by default the most likely other one.
    cats (Dict[str, float]): The student's probabilities (doc.cats).
    logit_diff (float): The student's logit(label) - logit(other).
    bias (float): What an empty text would get: the output layer's bias difference.
    contributions (List[Contribution]): The features, largest |weight| first (the top_k of them).
    rest (float): The sum of the weights of the contributions left out by top_k.
    tokens (List[Tuple[int, int, float]]): Each token's (start, end, weight), for highlighting:
        each n-gram occurrence's weight shared equally among its tokens (the dense branch's is
        not in them).
    """

    text: str
    label: str
    other: str
    cats: Dict[str, float]
    logit_diff: float
    bias: float
    contributions: List[Contribution]
    rest: float
    tokens: List[Tuple[int, int, float]]

    def __str__(self) -> str:
        return format_explanation(self)


def explain(
    nlp: Language, text: str, top_k: Optional[int] = None, label: Optional[str] = None,
    other: Optional[str] = None, component: Optional[str] = None,
) -> Explanation:
    """Explain the textcat's prediction for a text exactly: the contribution of each of its
    n-grams to the logit difference, from the model's own weights (docs/method.md).

    nlp (Language): A pipeline with a textcat whose model is one of this module's bag-of-words
        architectures (TextCatBOWBatched.v2, .v3; TextCatBOWEmbed.v2, whose dense branch is
        one "dense" contribution).
    text (str): The text to explain.
    top_k (Optional[int]): Keep the top_k largest contributions; the others' sum is `rest`.
    label (Optional[str]): The label to explain; by default the predicted one.
    other (Optional[str]): The label to weigh it against; by default the most likely other one.
    component (Optional[str]): The textcat's name; by default the pipeline's only textcat.
    RETURNS (Explanation): The explanation.
    """
    textcat = nlp.get_pipe(component or _textcat_name(nlp))
    features, logits_layer, linear, dense = _explainable_parts(textcat.model)
    labels = list(textcat.labels)
    doc = nlp(text)
    label = label if label is not None else max(labels, key=lambda name: doc.cats[name])
    other = other if other is not None else max((name for name in labels if name != label), key=lambda name: doc.cats[name])
    i, j = _label_indices(labels, label, other)
    X = features.predict([doc])
    logits = numpy.asarray(logits_layer.predict(X), dtype="float64")[0]
    keys, values, _ = X
    key_scores = _key_scores(linear, keys, values)
    key_weights = key_scores[:, i] - key_scores[:, j]
    bias_row = numpy.asarray(linear.get_param("b"), dtype="float64")
    token_weights = numpy.zeros(len(doc))
    found: Dict[int, Contribution] = {}
    occurrences = _key_occurrences(doc, features)
    for key, weight in zip(numpy.asarray(keys).tolist(), key_weights.tolist()):
        kind, feature, start, end = occurrences[key].pop(0)
        contribution = found.setdefault(key, Contribution(feature, kind, 0.0))
        contribution.weight += weight
        contribution.spans.append((doc[start].idx, doc[end - 1].idx + len(doc[end - 1])))
        token_weights[start:end] += weight / (end - start)
    contributions = list(found.values())
    if dense is not None:
        dense_row = numpy.asarray(_dense_logits(dense, X), dtype="float64")[0]
        contributions.append(Contribution("dense network over all features", "dense", dense_row[i] - dense_row[j]))
    contributions.sort(key=lambda contribution: -abs(contribution.weight))
    kept = contributions if top_k is None else contributions[:top_k]
    return Explanation(
        text=text, label=label, other=other, cats=dict(doc.cats), logit_diff=float(logits[i] - logits[j]),
        bias=float(bias_row[i] - bias_row[j]), contributions=kept,
        rest=math.fsum(contribution.weight for contribution in contributions[len(kept):]),
        tokens=[(token.idx, token.idx + len(token), float(weight)) for token, weight in zip(doc, token_weights)],
    )


def top_features(
    nlp: Language, texts: Iterable[str], label: str, other: str, min_docs: int = 5, component: Optional[str] = None,
) -> List[Tuple[str, float, int]]:
    """The weights of the word n-grams that occur in texts, as the model scores each on its own
    (value 1): how much it favours label over other, strongest first.

    nlp (Language): A pipeline as explain() takes it.
    texts (Iterable[str]): Where to find the n-grams (the model stores only their hashes).
    label (str): The label favoured by a positive weight.
    other (str): The label favoured by a negative one.
    min_docs (int): Leave out the n-grams found in fewer texts.
    component (Optional[str]): The textcat's name; by default the pipeline's only textcat.
    RETURNS (List[Tuple[str, float, int]]): (n-gram, weight, number of texts), largest |weight| first.
    """
    textcat = nlp.get_pipe(component or _textcat_name(nlp))
    features, _, linear, _ = _explainable_parts(textcat.model)
    i, j = _label_indices(list(textcat.labels), label, other)
    names: Dict[int, str] = {}
    docs: Dict[int, int] = {}
    for doc in nlp.pipe(texts):
        for key, found in _key_occurrences(doc, features).items():
            if found[0][0] == "ngram":
                names.setdefault(key, found[0][1])
                docs[key] = docs.get(key, 0) + 1
    keys = numpy.asarray([key for key, n in docs.items() if n >= min_docs], dtype="uint64")
    scores = _key_scores(linear, linear.ops.asarray(keys, dtype="uint64"), linear.ops.alloc1f(len(keys)) + 1.0)
    weights = scores[:, i] - scores[:, j]
    ranked = sorted(zip(keys.tolist(), weights.tolist()), key=lambda pair: -abs(pair[1]))
    return [(names[key], weight, docs[key]) for key, weight in ranked]


def _textcat_name(nlp: Language) -> str:
    names = [name for name, pipe in nlp.pipeline if isinstance(pipe, TextCategorizer)]
    if len(names) != 1:
        raise ValueError(f"explain: the pipeline has {len(names)} textcats ({names}): name one as component")
    return names[0]


def _label_indices(labels: List[str], label: str, other: str) -> Tuple[int, int]:
    for name in (label, other):
        if name not in labels:
            raise ValueError(f"explain: {name!r} is not a label of the textcat; its labels are {labels}")
    if label == other:
        raise ValueError(f"explain: label and other are both {label!r}")
    return labels.index(label), labels.index(other)


def _explainable_parts(model: Model) -> Tuple[Model, Model, Model, Optional[Model]]:
    """RETURNS: The feature layer, the layer that gives the logits, the sparse linear layer and
    the dense branch (or None) of a model of this module's bag-of-words architectures."""
    layers = model.layers
    if (len(layers) == 3 and layers[0].name == "extract_ngrams_batched" and layers[2].name == PROB_HEAD
            and not layers[0].attrs.get("unigram_attrs")):
        linear = model.get_ref("output_layer")
        if layers[1] is linear or layers[1].layers == [linear]:
            return layers[0], layers[1], linear, None
        if layers[1].name == "bow_plus_dense":
            return layers[0], layers[1], linear, layers[1].layers[1]
    raise ValueError(
        f"explain: the textcat's model ({model.name}) is not one of the explained architectures: "
        "review_distill.TextCatBOWBatched.v2 (with an exclusive output layer), .v3 and review_distill.TextCatBOWEmbed.v2"
    )


def _key_scores(linear: Model, keys, values) -> numpy.ndarray:
    """RETURNS: Each key's row of the sparse linear layer's scores without the bias: that layer
    applied to each key alone, with a zero bias (its own hashing and weights)."""
    probe = SparseLinear_v2(nO=linear.get_dim("nO"), length=linear.get_dim("length"))
    probe.attrs["v1_indexing"] = linear.attrs["v1_indexing"]
    probe.set_param("W", linear.get_param("W"))
    probe.set_param("b", linear.ops.alloc1f(linear.get_dim("nO")))
    ones = linear.ops.asarray(numpy.ones(len(keys), dtype="int32"), dtype="int32")
    return numpy.asarray(probe.predict((keys, values, ones)), dtype="float64")


def _dense_logits(dense: Model, X):
    if len(X[0]):
        return dense.predict(_ngram_ragged(X))
    embed, _, *hidden = dense.layers
    return chain(*hidden).predict(dense.ops.alloc2f(len(X[2]), embed.get_dim("nO")))


def _key_occurrences(doc: Doc, features: Model) -> Dict[int, List[Tuple[str, str, int, int]]]:
    """RETURNS: For each key the feature layer gives the doc, its occurrences in the order the
    layer lists them: (kind, feature, start token, end token)."""
    ngram_size = features.attrs["ngram_size"]
    lower = features.attrs["attr"] == _attr_id("LOWER")
    tokens = doc.to_array(features.attrs["attr"]).astype("uint64")
    occurrences: Dict[int, List[Tuple[str, str, int, int]]] = {}
    by_size = [tokens] + [features.ops.ngrams(n, tokens) if n <= len(tokens) else [] for n in range(2, ngram_size + 1)]
    for start in range(len(tokens)):
        for n in range(1, ngram_size + 1):
            if start + n <= len(tokens):
                key = int(by_size[n - 1][start])
                feature = doc[start : start + n].text
                occurrences.setdefault(key, []).append(("ngram", feature.lower() if lower else feature, start, start + n))
    sizes = features.attrs.get("char_ngram_sizes")
    if sizes:
        cache = char_ngram_cache(sizes)
        for start, key in enumerate(tokens.tolist()):
            string = doc.vocab.strings[key]
            for ngram, char_key in zip(cache.ngrams(string), cache(key, doc.vocab.strings).tolist()):
                occurrences.setdefault(char_key, []).append(("char_ngram", ngram, start, start + 1))
    return occurrences


def format_explanation(explanation: Explanation, color: bool = False) -> str:
    """RETURNS (str): The prediction, the text (with color, its tokens coloured by weight) and the
    contributions, for a terminal: green favours POS (or the label explained), red NEG."""
    sign = -1.0 if explanation.other == "POS" else 1.0  # > 0: favours POS
    label, other = explanation.label, explanation.other

    def paint(text: str, weight: float, scale: float = 1.0) -> str:
        if not color or not weight:
            return text
        code = "32" if sign * weight > 0 else "31"
        return f"\033[{'1;' if abs(weight) >= scale else ''}{code}m{text}\033[0m"

    lines = [f"{label} {explanation.cats[label]:.3f} ({other} {explanation.cats[other]:.3f})"]
    if color:
        largest = max((abs(weight) for _, _, weight in explanation.tokens), default=0.0)
        text, end = [], 0
        for start, stop, weight in explanation.tokens:
            text.append(explanation.text[end:start] + paint(explanation.text[start:stop], weight, largest / 2))
            end = stop
        lines.append("".join(text) + explanation.text[end:])
    else:
        lines.append(explanation.text)
    lines.append(f"Contributions to logit({label}) - logit({other}) = {explanation.logit_diff:+.3f}:")
    for contribution in explanation.contributions:
        name = contribution.feature if contribution.kind == "ngram" else f"{contribution.feature} ({contribution.kind})"
        lines.append(f"  {paint(f'{contribution.weight:+.3f}', contribution.weight)}  {name}")
    if explanation.rest:
        lines.append(f"  {explanation.rest:+.3f}  (the other features)")
    lines.append(f"  {explanation.bias:+.3f}  (bias)")
    return "\n".join(lines)


def explain_cli(nlp: Language, argv: Optional[Sequence[str]] = None) -> int:
    """`python -m {package} [TEXT ...]`: print each text's prediction and its top contributions
    (the texts from standard input, one per line, where none are given)."""
    import argparse
    import os
    import sys

    parser = argparse.ArgumentParser(description="Explain the pipeline's prediction for each text.")
    parser.add_argument("texts", nargs="*", help="Texts to explain (default: one per line of standard input)")
    parser.add_argument("--top-k", type=int, default=10, help="How many contributions to show")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="Colour the words and weights (auto: on a terminal, unless NO_COLOR is set)")
    args = parser.parse_args(argv)
    if args.top_k < 0:
        parser.error(f"--top-k must be 0 or more, not {args.top_k}")
    color = args.color == "always" or (args.color == "auto" and sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    texts = args.texts or [line.rstrip("\n") for line in sys.stdin]
    for n, text in enumerate(texts):
        print(("\n" if n else "") + format_explanation(explain(nlp, text, top_k=args.top_k), color=color))
    return 0
