"""The textcat_distill component: soft cats, its losses' gradients, inference and training."""
import ast
import json
import math
import re
import shutil
import subprocess
import sys
from collections import Counter

import numpy
import pytest
import spacy
import srsly
from spacy.attrs import LOWER, ORTH
from spacy.ml.extract_ngrams import extract_ngrams
from spacy.strings import get_string_id
from spacy.training import Corpus
from spacy.util import get_words_and_spaces, registry
from thinc.api import Adam, Ops, Softmax, set_dropout_rate, softmax_activation

from review_distill.reviews import CHAR_TOKENIZER, make_nlp
from review_distill.textcat_distill import LOSSES, DistillTextCategorizer
from review_distill.textcat_ngrams import CHAR_NGRAM_SALT, extract_ngrams_batched
from review_distill.textcat_tokenizers import CHAR_TOKEN
from review_distill.errors import ProjectError
from review_distill.training import fingerprint
from util import (
    BATCHED_BOW, BOW, BOW_V3, COMPONENT, ENSEMBLE, MODELS, PACKAGE_CODE, REDUCE, ROOT, SOFT_DATA, TINY_TOK2VEC, TOY_NEG, TOY_POS,
    TOY_THINGS, example, randomize, soft_examples, toy_corpus, train_toy_students, write_docbin,
)

LABELS = ("POS", "NEG")
STARS = ("1", "2", "3", "4", "5")
# SOFT_DATA over five labels: (text, the teacher's probabilities in STARS order, gold label).
SOFT_STARS = [
    ("a great phone , works well", (0.02, 0.03, 0.1, 0.35, 0.5), "5"),
    ("it broke after a day", (0.6, 0.25, 0.1, 0.03, 0.02), "1"),
    ("fine , nothing special", (0.05, 0.15, 0.5, 0.2, 0.1), None),
    ("awful smell and bad glue", (0.7, 0.2, 0.06, 0.03, 0.01), None),
    ("lovely book", (0.01, 0.01, 0.03, 0.15, 0.8), "4"),
    ("meh", (0.1, 0.3, 0.35, 0.2, 0.05), "2"),
]
# Each label set's (labels, [(text, probabilities, gold label)]), by its number of labels.
LABELLED = {
    2: (LABELS, [(text, (p, 1.0 - p), gold) for text, p, gold in SOFT_DATA]),
    5: (STARS, SOFT_STARS),
}


def make_pipe(model=BOW, **config):
    nlp = spacy.blank("en")
    pipe = nlp.add_pipe("textcat_distill", config={"model": model, **config})
    return nlp, pipe


# The losses, written out independently of the component: the sum over the docs, as a
# function of the student's probabilities q (logits are log q up to a constant).


def softened(probs, T):
    logits = numpy.log(numpy.maximum(probs, 1e-300)) / T
    exp = numpy.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def objective(q, teacher, gold, has_gold, loss, T, alpha, head):
    """The function whose gradient the component's d_scores is meant to be."""
    q = numpy.asarray(q, dtype="float64")
    w_hard = alpha * has_gold
    hard = -(gold * numpy.log(q)).sum(axis=1)
    if loss == "ce":
        distill = -(T**2) * (softened(teacher, T) * numpy.log(softened(q, T))).sum(axis=1)
    elif loss == "logit_mse":
        distill = 0.5 * ((centred(numpy.log(q)) - centred(numpy.log(teacher))) ** 2).sum(axis=1)
    elif head == "softmax_activation":  # spaCy's d_scores = q - p is the gradient of this...
        distill = 0.5 * ((q - teacher) ** 2).sum(axis=1)
    else:  # ...and, taken as the gradient w.r.t. the logits, of the cross-entropy
        distill = -(teacher * numpy.log(q)).sum(axis=1)
    return float((w_hard * hard + (1 - w_hard) * distill).sum())


def centred(logits):
    return logits - logits.mean(axis=1, keepdims=True)


def finite_difference(param, index, function, eps):
    """The central difference of function() w.r.t. param[index] (changed in place, then restored)."""
    original = param[index]
    param[index] = original + eps
    plus = function()
    param[index] = original - eps
    minus = function()
    param[index] = original
    return (plus - minus) / (2 * eps)


def labelled_examples(nlp, n_labels):
    """LABELLED[n_labels] as examples: the teacher's probabilities as cats, the gold label in user_data."""
    labels, data = LABELLED[n_labels]
    return [example(nlp, dict(zip(labels, probs)), text, **({"gold_label": gold} if gold else {}))
            for text, probs, gold in data]


def targets(n_labels=2):
    labels, data = LABELLED[n_labels]
    teacher = numpy.array([probs for _, probs, _ in data], dtype="float64")
    gold = numpy.array([[g == label for label in labels] for _, _, g in data], dtype="float64")
    has_gold = numpy.array([g is not None for _, _, g in data], dtype="float64")
    return teacher, gold, has_gold


SETTINGS = [
    {"loss": "ce", "temperature": 2.5, "alpha": 0.3},
    {"loss": "ce", "temperature": 0.7, "alpha": 0.0},
    {"loss": "mse", "temperature": 1.0, "alpha": 0.0},
    {"loss": "mse", "temperature": 1.0, "alpha": 0.5},
    {"loss": "logit_mse", "temperature": 1.0, "alpha": 0.0},
    {"loss": "logit_mse", "temperature": 1.0, "alpha": 0.4},
]


def setting_id(setting):
    return "-".join(f"{key}={value}" for key, value in setting.items())


@pytest.mark.parametrize("n_labels", list(LABELLED))
@pytest.mark.parametrize("setting", SETTINGS, ids=setting_id)
@pytest.mark.parametrize("head", ["softmax_activation", "softmax"])
def test_gradient_through_head_matches_finite_differences(head, setting, n_labels):
    """In float64, on the output layer alone: d_scores pushed through the layer's backprop
    is the gradient of the loss w.r.t. its input (and weights), for two labels and five."""
    ops = Ops()  # thinc's plain numpy ops: float64 throughout (BLIS takes float32 only)
    rng = numpy.random.default_rng(0)
    labels, data = LABELLED[n_labels]
    if head == "softmax_activation":
        layer = softmax_activation()
        X = rng.normal(0, 2, (len(data), n_labels))
    else:
        layer = Softmax(nO=n_labels, nI=3)
        X = rng.normal(0, 1, (len(data), 3))
        layer.ops = ops
        layer.initialize()
        layer.set_param("W", rng.normal(0, 1.5, (n_labels, 3)))
        layer.set_param("b", rng.normal(0, 0.5, (n_labels,)))
    nlp = spacy.blank("en")
    pipe = DistillTextCategorizer(nlp.vocab, layer, threshold=0.0, **setting)
    for label in labels:
        pipe.add_label(label)
    examples = labelled_examples(nlp, n_labels)
    scores, backprop = layer(ops.asarray2f(X, dtype="float64"), is_train=True)
    loss, d_scores = pipe.get_loss(examples, scores)
    d_X = backprop(d_scores)
    args = (*targets(n_labels), setting["loss"], setting["temperature"], setting["alpha"], head)
    assert loss == pytest.approx(reported_loss(scores, setting, n_labels))

    def numeric(param, index):
        return finite_difference(param, index, lambda: objective(layer.predict(X), *args), eps=1e-6)

    for index in numpy.ndindex(X.shape):
        assert d_X[index] == pytest.approx(numeric(X, index), abs=1e-7, rel=1e-6)
    if head == "softmax":
        for name in ("W", "b"):
            param = layer.get_param(name)
            for index in numpy.ndindex(param.shape):
                assert layer.get_grad(name)[index] == pytest.approx(numeric(param, index), abs=1e-7, rel=1e-6)
    assert abs(d_X).max() > 1e-2


def reported_loss(scores, setting, n_labels=2):
    """get_loss's value: the per-doc loss, averaged (spaCy's MSE: the mean squared error)."""
    teacher, gold, has_gold = targets(n_labels)
    q = numpy.asarray(scores, dtype="float64")
    w_hard = setting["alpha"] * has_gold
    hard = -(gold * numpy.log(q)).sum(axis=1)
    T = setting["temperature"]
    if setting["loss"] == "ce":
        distill = -(T**2) * (softened(teacher, T) * numpy.log(softened(q, T))).sum(axis=1)
    elif setting["loss"] == "logit_mse":
        distill = 0.5 * ((centred(numpy.log(q)) - centred(numpy.log(teacher))) ** 2).sum(axis=1)
    else:
        distill = ((q - teacher) ** 2).mean(axis=1)
    return float((w_hard * hard + (1 - w_hard) * distill).mean())


@pytest.mark.parametrize("n_labels", list(LABELLED))
@pytest.mark.parametrize("setting", SETTINGS, ids=setting_id)
@pytest.mark.parametrize("model_name", list(MODELS))
def test_gradient_of_whole_model_matches_finite_differences(model_name, setting, n_labels):
    """Through the real models (float32): the gradients that update() leaves on the output
    layer's and the BOW layer's weights (and every layer's of the DAN) are those of the loss, by
    finite differences, for two labels and five."""
    nlp, pipe = make_pipe(MODELS[model_name], **setting)
    examples = labelled_examples(nlp, n_labels)
    nlp.initialize(lambda: examples)
    assert pipe.labels == LABELLED[n_labels][0]
    model = pipe.model
    randomize(model)
    set_dropout_rate(model, 0.0)
    docs = [eg.predicted for eg in examples]
    scores, backprop = model.begin_update(docs)
    loss, d_scores = pipe.get_loss(examples, scores)
    backprop(d_scores)
    assert loss == pytest.approx(reported_loss(scores, setting, n_labels), rel=1e-5)
    args = (*targets(n_labels), setting["loss"], setting["temperature"], setting["alpha"], pipe.output_head)
    dan = model_name.startswith("bow_dan")
    checked = ("softmax", "sparse_linear", "linear", "relu", "hashembed") if dan else ("softmax", "sparse_linear")
    layers = [node for node in model.walk() if node.name in checked]
    assert len(layers) == (4 if dan else {"bow": 1, "batched_bow": 1, "bow_v3": 1, "ensemble": 2, "reduce": 1}[model_name])
    for layer in layers:
        for name in layer.param_names:
            param, grad = layer.get_param(name), layer.get_grad(name)
            assert abs(grad).max() > 1e-2
            for index in numpy.argsort(-abs(grad).ravel())[:6]:
                index = numpy.unravel_index(index, param.shape)
                numeric = finite_difference(param, index, lambda: objective(model.predict(docs), *args), eps=1e-3)
                assert grad[index] == pytest.approx(numeric, abs=2e-3, rel=1e-2), (layer.name, name, index)


def test_head_detection():
    assert make_pipe(BOW)[1].output_head == "softmax_activation"
    assert make_pipe(BATCHED_BOW)[1].output_head == "softmax_activation"
    assert make_pipe(ENSEMBLE)[1].output_head == "softmax"
    assert make_pipe(REDUCE)[1].output_head == "softmax"
    assert make_pipe({"@architectures": "spacy.TextCatParametricAttention.v1", "tok2vec": TINY_TOK2VEC,
                      "exclusive_classes": True})[1].output_head == "softmax"
    for bad in ({**BOW, "exclusive_classes": False}, {**BOW, "no_output_layer": True},
                {**REDUCE, "exclusive_classes": False}):
        with pytest.raises(ValueError, match="the model's output layer is '(logistic|sparse_linear)'"):
            make_pipe(bad)


@pytest.mark.parametrize("config, message", [
    ({"loss": "kl"}, "loss must be one of ce, mse, logit_mse, not 'kl'"),
    ({"temperature": 0.0}, "temperature must be a number > 0"),
    ({"temperature": -2.0}, "temperature must be a number > 0"),
    ({"alpha": 1.5}, r"alpha must be a number in \[0, 1\]"),
    ({"alpha": -0.1}, r"alpha must be a number in \[0, 1\]"),
])
def test_bad_config(config, message):
    with pytest.raises(ValueError, match=message):
        make_pipe(**config)


def test_soft_cats_accepted_where_textcat_rejects_them():
    nlp, pipe = make_pipe()
    examples = soft_examples(nlp)
    nlp.initialize(lambda: examples)
    assert pipe.labels == LABELS
    losses = nlp.update(examples)
    assert losses["textcat_distill"] > 0
    stock = spacy.blank("en")
    stock.add_pipe("textcat", config={"model": BOW})
    with pytest.raises(ValueError, match="E851"):
        stock.initialize(lambda: soft_examples(stock))


@pytest.mark.parametrize("cats, user_data, message", [
    ({"POS": 1.2, "NEG": -0.2}, {}, r"the value 1.2 of 'POS' is not a probability in \[0, 1\]"),
    ({"POS": 0.5, "NEG": float("nan")}, {}, r"the value nan of 'NEG' is not a probability"),
    ({"POS": 0.5, "NEG": 0.4}, {}, "summing to 0.9; the labels are exclusive"),
    ({"POS": 0.7, "NEG": 0.7}, {}, "summing to 1.4"),
    ({"POS": 1.2}, {}, r"the value 1.2 of 'POS' is not a probability"),
    ({}, {"gold_label": "POS"}, "gold label 'POS'.*not among its cats"),
    ({"POS": 0.5, "NEG": 0.5}, {"gold_label": "MEH"}, "gold label 'MEH'.*not among its cats"),
])
def test_invalid_cats_rejected(cats, user_data, message):
    nlp, pipe = make_pipe()
    bad = example(nlp, cats, text="the bad doc", id="r42", **user_data)
    with pytest.raises(ValueError, match=re.escape("the doc 'r42' ('the bad doc')") + ".*" + message):
        nlp.initialize(lambda: [*soft_examples(nlp), bad])
    nlp.initialize(lambda: soft_examples(nlp))
    with pytest.raises(ValueError, match=message):
        nlp.update([*soft_examples(nlp), bad])
    with pytest.raises(ValueError, match=message):
        pipe.get_loss([bad], pipe.model.ops.alloc2f(1, 2) + 0.5)


def test_unknown_labels_rejected():
    nlp, pipe = make_pipe()
    meh = example(nlp, {"POS": 0.5, "NEG": 0.3, "MEH": 0.2})
    with pytest.raises(ValueError, match=r"unknown label\(s\) \['MEH'\]"):
        pipe.initialize(lambda: [*soft_examples(nlp), meh], nlp=nlp, labels=LABELS)
    nlp.initialize(lambda: soft_examples(nlp))
    with pytest.raises(ValueError, match=r"unknown label\(s\) \['MEH'\]"):
        nlp.update([meh])


@pytest.mark.parametrize("loss", LOSSES)
def test_missing_annotation_adds_no_loss(loss):
    """A doc without cats adds no loss and no gradient; a missing label is 0 where the others
    sum to 1, and the rest where it is the only one missing."""
    nlp, pipe = make_pipe(loss=loss)
    nlp.initialize(lambda: soft_examples(nlp))
    scores = pipe.model.ops.asarray2f([[0.3, 0.7], [0.6, 0.4], [0.8, 0.2]])
    annotated = [example(nlp, {"POS": 0.9, "NEG": 0.1}), example(nlp, {"POS": 0.0, "NEG": 1.0})]
    loss_with, d_with = pipe.get_loss([*annotated, example(nlp, {})], scores)
    loss_without, d_without = pipe.get_loss(annotated, scores[:2])
    assert loss_with == pytest.approx(loss_without * 2 / 3) and d_with[2].tolist() == [0.0, 0.0]
    numpy.testing.assert_allclose(d_with[:2], d_without)
    for partial in ({"POS": 0.9}, {"NEG": 1.0}):
        full = {"POS": 0.9, "NEG": 0.1} if "POS" in partial else {"POS": 0.0, "NEG": 1.0}
        numpy.testing.assert_allclose(pipe.get_loss([example(nlp, partial)], scores[:1])[1],
                                      pipe.get_loss([example(nlp, full)], scores[:1])[1])


def test_missing_annotation_over_three_labels():
    """Over three labels: the one label missing gets the rest; two missing labels get 0 where the
    cats sum to 1, and leave the doc without annotation where they do not."""
    nlp, pipe = make_pipe(loss="ce")
    pipe.initialize(lambda: [example(nlp, {"NEG": 0.2, "NEU": 0.3, "POS": 0.5})], nlp=nlp)
    assert pipe.labels == ("NEG", "NEU", "POS")
    scores = pipe.model.ops.asarray2f([[0.3, 0.3, 0.4]])

    def d_scores(cats):
        return pipe.get_loss([example(nlp, cats)], scores)[1]

    numpy.testing.assert_allclose(d_scores({"NEG": 0.2, "POS": 0.5}), d_scores({"NEG": 0.2, "NEU": 0.3, "POS": 0.5}))
    numpy.testing.assert_allclose(d_scores({"NEU": 1.0}), d_scores({"NEG": 0.0, "NEU": 1.0, "POS": 0.0}))
    loss, d_missing = pipe.get_loss([example(nlp, {"NEU": 0.6})], scores)
    assert loss == 0.0 and d_missing.tolist() == [[0.0, 0.0, 0.0]]


def test_docs_without_cats_train_nothing():
    """nlp.update on docs without cats leaves the model as it is; with others it trains."""
    nlp, pipe = make_pipe(MODELS["bow_v3"])
    optimizer = nlp.initialize(lambda: soft_examples(nlp))
    before = pipe.to_bytes()
    assert nlp.update([example(nlp, {}, text) for text, _, _ in SOFT_DATA], sgd=optimizer)["textcat_distill"] == 0.0
    assert pipe.to_bytes() == before
    nlp.update([*soft_examples(nlp), example(nlp, {})], sgd=optimizer)
    assert pipe.to_bytes() != before


def test_output_layer_without_probabilities_is_refused_but_for_mse():
    """A model without an exclusive softmax output is refused for the cross-entropy, with what to
    use instead, and trained with spaCy's loss."""
    no_output = {**BOW, "no_output_layer": True}
    with pytest.raises(ValueError, match="'sparse_linear'.*use loss = \"mse\" and alpha = 0"):
        make_pipe(no_output)
    with pytest.raises(ValueError, match="'logistic'.*textcat_multilabel"):
        make_pipe({**BOW, "exclusive_classes": False}, loss="logit_mse")
    nlp, pipe = make_pipe(no_output, loss="mse")
    nlp.initialize(lambda: soft_examples(nlp))
    scores = pipe.model.ops.asarray2f([[0.3, 0.2]])
    assert pipe.get_loss(soft_examples(nlp)[:1], scores)[1][0].tolist() == pytest.approx([0.3 - 0.9, 0.2 - 0.1])


@pytest.mark.parametrize("model_name", list(MODELS))
def test_empty_docs_get_a_distribution(model_name):
    """An empty text gets the model's prior where the architecture scores empty docs (this
    module's), else what a whitespace-only text gets; in a batch of its own or with others."""
    nlp, pipe = make_pipe(MODELS[model_name])
    nlp.initialize(lambda: soft_examples(nlp))
    randomize(pipe.model)
    alone, *batch = [doc.cats for doc in nlp.pipe(["", "", "some text", "", "x"])]
    assert sum(alone.values()) == pytest.approx(1.0, abs=1e-6) and batch[0] == alone == batch[2]
    if pipe.model.attrs.get("scores_empty_docs"):
        prior = pipe.model.ops.softmax(pipe.model.get_ref("output_layer").get_param("b")[None, :])[0]
        if model_name == "bow_dan_v2":
            prior = pipe.model.predict([nlp.make_doc("")])[0]  # the DAN adds its bias path
        assert [alone[label] for label in pipe.labels] == pytest.approx(prior.tolist(), abs=1e-6)
    else:
        assert alone == nlp(" ").cats


@pytest.mark.parametrize("model_name", ["bow", "ensemble"])
def test_inference_identical_to_textcat(model_name):
    nlp, pipe = make_pipe(MODELS[model_name], threshold=0.5)
    examples = soft_examples(nlp)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    stock = spacy.blank("en")
    stock_pipe = stock.add_pipe("textcat", config={"model": MODELS[model_name], "threshold": 0.5})
    stock_pipe.from_bytes(pipe.to_bytes())
    texts = [text for text, _, _ in SOFT_DATA] + ["an unseen review", "x"]
    ours = [doc.cats for doc in nlp.pipe(texts)]
    assert ours == [doc.cats for doc in stock.pipe(texts)]
    # (An empty doc gets a distribution from ours, zeros from spaCy's: test_empty_docs_get_a_distribution.)
    assert stock("").cats == {"POS": 0.0, "NEG": 0.0} and sum(nlp("").cats.values()) == pytest.approx(1.0)
    assert len({round(cats["POS"], 4) for cats in ours}) > 3  # not a constant
    gold = [example(nlp, {"POS": float(p > 0.5), "NEG": float(p <= 0.5)}, text) for text, p, _ in SOFT_DATA]
    scores = nlp.evaluate(gold)
    assert {"cats_score", "cats_macro_auc", "cats_macro_f", "cats_f_per_type"} <= set(scores)
    assert scores == {**stock.evaluate(gold), "speed": scores["speed"]}


@pytest.mark.parametrize("ngram_size", [1, 2, 3])
def test_batched_ngrams_are_spacys_per_doc_ngrams(ngram_size):
    nlp = spacy.blank("en")
    texts = ["good good good phone", "bad", "not good , not good at all", "x y", "good phone good phone"]
    docs = [nlp(text) for text in texts]
    spacys = extract_ngrams(ngram_size, attr=ORTH)
    ours = extract_ngrams_batched(ngram_size, attr=ORTH)
    (keys, values, lengths), _ = ours(docs[:2] + [nlp("")] + docs[2:], is_train=False)
    assert lengths.tolist()[2] == 0  # the empty doc
    starts = numpy.cumsum([0, *lengths.tolist()])
    ours_per_doc = [Counter(keys[start:end].tolist()) for start, end in zip(starts[:-1], starts[1:])]
    del ours_per_doc[2]
    assert values.tolist() == [1.0] * len(keys)
    for doc, counts in zip(docs, ours_per_doc):
        (doc_keys, doc_values, _), _ = spacys([doc], is_train=False)
        assert counts == dict(zip(doc_keys.tolist(), doc_values.tolist()))
    assert max(len(counts) for counts in ours_per_doc) > 1  # n-grams, not just one key a doc


def test_batched_bow_scores_are_spacys_bow_scores():
    nlp = spacy.blank("en")
    docs = [nlp(text) for text, _, _ in SOFT_DATA] + [nlp("good good good"), nlp("x")]
    spacys, ours = (registry.resolve({"model": {**config, "nO": 2}})["model"] for config in (BOW, BATCHED_BOW))
    spacys.initialize()
    weights = spacys.get_ref("output_layer")
    weights.set_param("W", numpy.random.default_rng(0).normal(size=weights.get_param("W").shape).astype("f"))
    ours.initialize()
    for name in ("W", "b"):
        ours.get_ref("output_layer").set_param(name, weights.get_param(name).copy())
    expected = spacys.predict(docs)
    assert len({round(float(row[0]), 4) for row in expected}) > 3  # not a constant
    numpy.testing.assert_allclose(ours.predict(docs), expected, rtol=1e-5, atol=1e-6)
    assert ours.predict([nlp("")]).shape == (1, 2)  # spaCy's crashes on an empty doc with bigrams


def test_bow_v3_without_its_features_scores_as_v2_and_normalize_bounds_long_docs():
    nlp = spacy.blank("en")
    docs = [nlp(text) for text, _, _ in SOFT_DATA] + [nlp("good " * 50), nlp("")]
    plain = {**BOW_V3, "attr": "ORTH", "char_ngram_sizes": [], "normalize": False}
    v2, v3, normalized = (registry.resolve({"model": {**config, "nO": 2}})["model"] for config in (BATCHED_BOW, plain, {**plain, "normalize": True}))
    for model in (v2, v3, normalized):
        model.initialize()
    weights = v2.get_ref("output_layer")
    weights.set_param("W", numpy.random.default_rng(0).normal(size=weights.get_param("W").shape).astype("f"))
    for model in (v3, normalized):
        for name in ("W", "b"):
            model.get_ref("output_layer").set_param(name, weights.get_param(name).copy())
    numpy.testing.assert_allclose(v3.predict(docs), v2.predict(docs), rtol=1e-6)
    # One word 50 times: its key and its bigram's count 50 and 49 times, but weigh 50/sqrt(99) and
    # 49/sqrt(99) once normalized: the logit gap shrinks by sqrt(99), about 10.
    gap_counted, gap_normalized = (numpy.ptp(numpy.log(model.predict(docs[-2:-1])[0])) for model in (v2, normalized))
    assert gap_counted == pytest.approx(99**0.5 * gap_normalized, rel=1e-3)


@pytest.mark.parametrize("p_pos, expected", [(0.8, 0.8), (1.0, 1.0)], ids=["soft", "hard"])
def test_training_learns_the_teachers_probabilities(p_pos, expected):
    """On a separable toy task the student learns the teacher's soft probabilities (not
    1.0), and on one-hot labels (the hard-label ablation) it heads for certainty."""
    nlp, pipe = make_pipe({**BOW, "ngram_size": 1}, loss="ce", temperature=2.0)
    examples = toy_corpus(nlp, p_pos)
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.05)
    losses = [nlp.update(examples, sgd=optimizer)["textcat_distill"] for _ in range(60)]
    assert losses[-1] < losses[0] - 0.2
    # With T = 2 the floor of the loss is T² times the entropy of the softened teacher.
    p_T = softened(numpy.array([[p_pos, 1 - p_pos]]), 2.0)[0]
    floor = -4 * sum(p * math.log(p) for p in p_T if p > 0)
    assert losses[-1] == pytest.approx(floor, abs=0.02)
    pos, neg = (doc.cats["POS"] for doc in nlp.pipe(["great cup", "poor cup"]))
    assert pos == pytest.approx(expected, abs=0.05) and 1 - neg == pytest.approx(expected, abs=0.05)


def test_training_learns_the_teachers_probabilities_over_three_labels():
    """Three words, each with its own soft distribution over NEG, NEU and POS: the student
    learns each distribution, and the gold label (alpha) pulls it towards the gold one."""
    teacher = {"poor": (0.7, 0.2, 0.1), "okay": (0.2, 0.6, 0.2), "great": (0.05, 0.15, 0.8)}
    learned = {}
    for alpha in (0.0, 0.5):
        nlp, pipe = make_pipe({**BOW, "ngram_size": 1}, loss="ce", temperature=2.0, alpha=alpha)
        examples = [example(nlp, dict(zip(("NEG", "NEU", "POS"), probs)), f"{word} {thing}", gold_label="POS")
                    for word, probs in teacher.items() for thing in TOY_THINGS]
        nlp.initialize(lambda: examples)
        optimizer = Adam(0.05)
        for _ in range(80):
            nlp.update(examples, sgd=optimizer)
        for word, probs in teacher.items():
            cats = nlp(f"{word} {TOY_THINGS[0]}").cats
            assert list(cats) == ["NEG", "NEU", "POS"] and sum(cats.values()) == pytest.approx(1.0, abs=1e-6)
            if alpha == 0.0:
                assert list(cats.values()) == pytest.approx(probs, abs=0.05)
                learned[word] = cats
            else:
                assert cats["POS"] > learned[word]["POS"] + 0.05


def test_corpus_reader_keeps_soft_cats_and_gold_label(tmp_path):
    nlp = spacy.blank("en")
    path = write_docbin(tmp_path / "train.spacy", soft_examples(nlp))
    read = list(Corpus(path)(nlp))
    assert [eg.reference.cats["POS"] for eg in read] == pytest.approx([p for _, p, _ in SOFT_DATA])
    assert [eg.reference.user_data.get("gold_label") for eg in read] == [g for _, _, g in SOFT_DATA]


def test_char_ngrams_are_each_words_subwords_salted_after_its_doc_ngrams():
    nlp = spacy.blank("en")
    docs = [nlp("Ab cd"), nlp(""), nlp("ab")]
    (plain, _, plain_lengths), _ = extract_ngrams_batched(2, attr=LOWER)(docs, False)
    (keys, values, lengths), _ = extract_ngrams_batched(2, attr=LOWER, char_ngram_sizes=(3, 4))(docs, False)
    # "<ab>" gives "<ab", "ab>" (the whole "<ab>" is the word's own key), likewise "<cd>"
    assert list(plain_lengths) == [3, 0, 1] and list(lengths) == [3 + 4, 0, 1 + 2]
    subwords = {get_string_id(text) ^ int(CHAR_NGRAM_SALT) for text in ("<ab", "ab>", "<cd", "cd>")}
    assert list(keys[:3]) == list(plain[:3]) and set(keys[3:7].tolist()) == subwords
    assert list(keys[7:8]) == list(plain[3:]) and set(keys[8:].tolist()) < subwords
    assert values.tolist() == [1.0] * len(keys)


def test_normalize_gives_each_doc_unit_length():
    nlp = spacy.blank("en")
    docs = [nlp("good good phone , really"), nlp(""), nlp("x")]
    (keys, values, lengths), _ = extract_ngrams_batched(2, normalize=True, char_ngram_sizes=(3,))(docs, False)
    starts = numpy.cumsum([0, *lengths.tolist()])
    for start, end in zip(starts[:-1], starts[1:]):
        if end > start:
            assert float((values[start:end] ** 2).sum()) == pytest.approx(1.0, rel=1e-5)


@pytest.mark.parametrize("n_labels", list(LABELLED))
@pytest.mark.parametrize("model_name", ["batched_bow", "bow_v3", "bow_dan_v2"])
def test_predictions_survive_saving_and_loading(tmp_path, model_name, n_labels):
    nlp, _ = make_pipe(MODELS[model_name])
    examples = labelled_examples(nlp, n_labels)
    nlp.initialize(lambda: examples)
    randomize(nlp.get_pipe(nlp.pipe_names[0]).model)
    nlp.to_disk(tmp_path / "nlp")
    from_bytes = spacy.util.load_model_from_config(nlp.config).from_bytes(nlp.to_bytes())
    for loaded in (spacy.load(tmp_path / "nlp"), from_bytes):
        for text in ("some text", "a great phone, really", "words never seen"):
            assert loaded(text).cats == pytest.approx(nlp(text).cats, abs=1e-7)
            assert sum(loaded(text).cats.values()) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("config_name", ["student_bow", "student_dan", "student_ensemble"])
def test_train_textcat_trains_the_student_configs(tmp_path, config_name):
    """scripts/train_textcat.py with --code trains a student config on soft labels, gold dev."""
    nlp = spacy.blank("en")
    corpora = {"en": (soft_examples(nlp) + toy_corpus(nlp, 0.8), toy_corpus(nlp, 1.0))}
    training, metrics = train_toy_students(tmp_path, config_name, corpora, alpha=0.5)
    trained = spacy.load(training / "en" / "model-best")
    assert trained.get_pipe_meta("textcat").factory == "textcat_distill"
    assert trained.get_pipe("textcat").alpha == 0.5
    assert metrics.is_file() and (tmp_path / "metrics" / "dev" / f"{config_name}.json").is_file()


def test_train_textcat_tokenizes_the_char_languages_into_characters(tmp_path):
    """--char-languages gives ja the character tokenizer and --char-ngram-size its n-gram size,
    and leaves en its own tokenizer and the config's n-gram size."""
    corpora = {}
    for lang, pos, neg, things in (("en", TOY_POS, TOY_NEG, TOY_THINGS), ("ja", ["良い", "最高"], ["悪い", "最悪"], ["本", "靴"])):
        nlp = make_nlp(lang)
        corpora[lang] = (toy_corpus(nlp, 0.8, pos, neg, things), toy_corpus(nlp, 1.0, pos, neg, things))
    training, _ = train_toy_students(tmp_path, "student_bow", corpora, char_languages="ja", char_ngram_size=3)
    ja, en = (spacy.load(training / lang / "model-best") for lang in ("ja", "en"))
    assert ja.config["nlp"]["tokenizer"] == {"@tokenizers": "review_distill.encodable_tokenizer.v1", "tokenizer": CHAR_TOKENIZER}
    assert ja.config["components"]["textcat"]["model"]["ngram_size"] == 3
    assert en.config["components"]["textcat"]["model"]["ngram_size"] == 2
    assert [t.text for t in ja("とても良い本です")] == list("とても良い本です")
    assert en.config["nlp"]["tokenizer"]["tokenizer"] == spacy.blank("en").config["nlp"]["tokenizer"]


def toy_corpora(*languages):
    words = {"en": (TOY_POS, TOY_NEG, TOY_THINGS), "ja": (["良い", "最高"], ["悪い", "最悪"], ["本", "靴"])}
    corpora = {}
    for lang in languages:
        nlp = make_nlp(lang)
        corpora[lang] = (toy_corpus(nlp, 0.8, *words[lang]), toy_corpus(nlp, 1.0, *words[lang]))
    return corpora


def test_languages_trained_in_parallel_are_the_models_trained_one_at_a_time(tmp_path):
    """jobs=2 trains en and ja in processes of their own, each one's output in its train.log: the same
    weights and scores as one after another."""
    corpora = toy_corpora("en", "ja")
    one, one_metrics = train_toy_students(tmp_path / "one", "student_bow", corpora, char_languages="ja")
    two, two_metrics = train_toy_students(tmp_path / "two", "student_bow", corpora, char_languages="ja", jobs=2)
    for lang in corpora:
        models = [spacy.load(path / lang / "model-best").get_pipe("textcat").model for path in (one, two)]
        assert models[0].to_bytes() == models[1].to_bytes()
        assert "Training pipeline" in (two / lang / "train.log").read_text(encoding="utf8")
        assert not (one / lang / "train.log").exists()
    assert json.loads(one_metrics.read_text()) == json.loads(two_metrics.read_text())


def test_a_language_that_fails_in_parallel_stops_the_step_with_its_output(tmp_path):
    """Training ja fails (an n-gram size spaCy's config rejects) while en trains beside it: the error names
    ja and shows its output; en finishes and keeps its fingerprint, so the next run does not train it again."""
    corpora = toy_corpora("en", "ja")
    with pytest.raises(ProjectError, match="(?s)Training student_bow for ja failed.*ngram_size"):
        train_toy_students(tmp_path, "student_bow", corpora, char_languages="ja", char_ngram_size="x", jobs=2)
    assert (tmp_path / "training" / "student_bow" / "en" / "fingerprint.txt").is_file()
    assert not (tmp_path / "training" / "student_bow" / "ja" / "fingerprint.txt").exists()


def test_char_tokenizer_splits_cjk_characters_and_keeps_other_words():
    nlp = spacy.blank("ja", config={"nlp": {"tokenizer": CHAR_TOKENIZER}})
    text = "iPhone12を買った！ 画面が綺麗で、ﾊﾞｯﾃﾘｰも長持ち😀  ５つ星です\n"
    doc = nlp(text)
    assert doc.text == text
    assert [t.text for t in doc] == [
        "iPhone12", "を", "買", "っ", "た", "！", "画", "面", "が", "綺", "麗", "で", "、", "ﾊ", "ﾞ", "ｯ", "ﾃ", "ﾘ",
        "ｰ", "も", "長", "持", "ち", "😀", " ", "５", "つ", "星", "で", "す", "\n",
    ]
    assert [t.text for t in nlp("书到了，很好 good")] == ["书", "到", "了", "，", "很", "好", "good"]
    assert len(nlp("")) == 0 and [t.text for t in nlp("\u3000")] == ["\u3000"]


def test_char_tokenizer_keeps_whitespace_as_spacy_does():
    """Tokens and trailing spaces as spaCy's get_words_and_spaces makes them of the same
    words, on random strings of spaces, tabs, newlines, ideographic spaces and characters."""
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": CHAR_TOKENIZER}})
    rng = numpy.random.default_rng(0)
    alphabet = list(" \t\n\u3000aZ1_、。本日はカﾀ😀-")
    for _ in range(3000):
        text = "".join(rng.choice(alphabet, size=rng.integers(0, 12)))
        doc = nlp(text)
        assert doc.text == text
        expected = get_words_and_spaces(CHAR_TOKEN.findall(text), text)
        assert ([t.text for t in doc], [bool(t.whitespace_) for t in doc]) == tuple(map(list, expected)), repr(text)


def test_char_tokenizer_pipeline_saves_and_loads(tmp_path):
    nlp = spacy.blank("ja", config={"nlp": {"tokenizer": CHAR_TOKENIZER}})
    nlp.add_pipe("textcat_distill", config={"model": BATCHED_BOW})
    examples = toy_corpus(nlp, 0.8, ["良い"], ["悪い"], ["本"])
    nlp.initialize(lambda: examples)
    nlp.to_disk(tmp_path / "nlp")
    loaded = spacy.load(tmp_path / "nlp")
    assert type(loaded.tokenizer).__name__ == "CharTokenizer"
    assert [t.text for t in loaded("良い本")] == ["良", "い", "本"]
    assert loaded("良い本").cats == nlp("良い本").cats


def test_fingerprint_covers_config_overrides_and_files(tmp_path):
    config = tmp_path / "c.cfg"
    config.write_text("[nlp]\n")
    overrides = {"paths.train": "train.spacy"}
    code = tmp_path / "code.py"
    code.write_text("x = 1\n")
    stamp = fingerprint(config, overrides, [code])
    assert stamp == fingerprint(config, dict(overrides), [code])
    assert stamp != fingerprint(config, overrides, [])
    assert stamp != fingerprint(config, {"paths.train": "other.spacy"}, [code])
    code.write_text("x = 2\n")
    changed_code = fingerprint(config, overrides, [code])
    assert changed_code != stamp
    config.write_text("[nlp]\nlang = \"en\"\n")
    assert fingerprint(config, overrides, [code]) != changed_code


def test_component_imports_standalone(tmp_path):
    """The component's modules and the package's `score` command travel alone in a packaged pipeline:
    they import spaCy, thinc, numpy, tqdm (spaCy's), the standard library and each other only (so
    project.yml's --code lists them all, and its commands' deps), and work in a package laid out as
    `spacy package --code` lays them out, also when a second such package (a second packaged
    pipeline's) is imported after it."""
    for path in PACKAGE_CODE:
        tree = ast.parse(path.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and not node.level}
        assert imported - set(sys.stdlib_module_names) <= {"numpy", "thinc", "spacy", "tqdm"}, path.name
        siblings = {node.module or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level
                    for alias in node.names}
        assert siblings <= {path.stem for path in COMPONENT}, path.name
    commands = [command for command in srsly.read_yaml(ROOT / "project.yml")["commands"]
                if re.search(r"--code \S*textcat_distill\.py", " ".join(command["script"]))]
    assert len(commands) == 5
    for command in commands:
        files = [f"review_distill/{path.name}" for path in (PACKAGE_CODE if command["name"] == "package" else COMPONENT)]
        assert re.findall(r"--code (\S+)", " ".join(command["script"])) == [",".join(files)], command["name"]
        assert set(files) <= set(command["deps"]), command["name"]
    for name in ("first_package", "second_package"):
        (tmp_path / name).mkdir()
        for path in COMPONENT:
            shutil.copy(path, tmp_path / name)
        (tmp_path / name / "__init__.py").write_text("".join(f"from . import {path.stem}\n" for path in COMPONENT))
    script = f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
import first_package, second_package
import spacy
nlp = spacy.blank("en")
pipe = nlp.add_pipe("textcat_distill", config={{"loss": "mse", "temperature": 3.0}})
assert isinstance(pipe, first_package.textcat_distill.DistillTextCategorizer) and pipe.temperature == 3.0
assert not [name for name in sys.modules if name.split(".")[0] == "review_distill"], sys.modules
assert not any("scripts" in path for path in sys.path), sys.path
"""
    result = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_logit_mse_uses_the_teachers_logits_where_a_doc_has_them():
    """A teacher logit gap of 40 (p(NEG) rounded to 0 in the cats) is kept: the student is pulled
    towards it, not towards the floor of log p."""
    nlp, pipe = make_pipe(BATCHED_BOW, loss="logit_mse")
    with_logits = example(nlp, {"POS": 1.0, "NEG": 0.0}, teacher_logits={"POS": 0.0, "NEG": -40.0})
    without = example(nlp, {"POS": 0.75, "NEG": 0.25})
    pipe.initialize(lambda: [with_logits, without])
    q = numpy.array([[0.5, 0.5], [0.5, 0.5]], dtype="f")
    loss, d_scores = pipe.get_loss([with_logits, without], q)
    gap = math.log(0.75 / 0.25)
    assert loss == pytest.approx((0.5 * 2 * 20.0**2 + 0.5 * 2 * (gap / 2) ** 2) / 2, rel=1e-5)
    # Through softmax_activation: d_scores = d_logits / q, d_logits = c(log q) - c(z).
    assert d_scores[0] == pytest.approx([-20.0 / 0.5, 20.0 / 0.5], rel=1e-5)
    assert d_scores[1] == pytest.approx([-gap / 2 / 0.5, gap / 2 / 0.5], rel=1e-5)
