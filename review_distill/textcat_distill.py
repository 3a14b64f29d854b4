"""`textcat_distill`: an exclusive text classifier that learns from a teacher's soft labels, over
any number of labels (two or more).

spaCy's `textcat` only accepts cats of 0.0 or 1.0 (error E851). `DistillTextCategorizer`
subclasses its `TextCategorizer`: it predicts, sets `doc.cats` and scores like it, and takes the
teacher's probabilities in `doc.cats` as training data, with the losses "ce", "mse" and
"logit_mse" and an optional gold term (`alpha`). Importing it registers the students'
architectures (textcat_models) and tokenizers (textcat_tokenizers) too; textcat_explain explains
a student's predictions.

These modules ship inside each packaged pipeline (`spacy package --code`, review_distill/packaging.py),
so they import nothing but spaCy, thinc, numpy, the standard library and each other. The method:
docs/method.md, "The distillation component"."""
import math
import numbers
from typing import Callable, Iterable, List, Optional, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline.textcat import DEFAULT_SINGLE_TEXTCAT_MODEL, TextCategorizer, textcat_score
from spacy.tokens import Doc
from spacy.training import Example, validate_examples
from spacy.vocab import Vocab
from thinc.api import Model, get_array_module
from thinc.types import Floats2d

from . import textcat_models, textcat_tokenizers  # noqa: F401  (register the architectures and tokenizers)

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
    """Single-label text classifier trained on soft labels (a teacher's probabilities over its
    exclusive labels, two or more).

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
        loss "mse" and alpha 0 any other. It is found by the names of the chains and wrappers
        around it: spaCy's architectures keep no reference to it, and one added to ours would
        change the weights files they save."""
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
        "scores_empty_docs", those of textcat_models), else what it gives a
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
        a time instead of one score at a time (docs/results.md says what it saves).

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
