"""Why a student scored a text as it did: each n-gram's exact contribution to the difference of two
labels' logits (by default the predicted label's and the runner-up's), for any number of exclusive
labels, from the model's own weights (explain, top_features, ngram_scores), for a terminal (format_explanation) and as
a packaged pipeline's `python -m {package} TEXT` (explain_cli, review_distill/wheel_main.py).
Shipped in each packaged pipeline with the component (textcat_distill). See docs/method.md."""
import math
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy
from spacy.language import Language
from spacy.pipeline.textcat import TextCategorizer
from spacy.tokens import Doc
from thinc.api import Model, SparseLinear_v2

from .textcat_distill import PROB_HEAD
from .textcat_models import dense_forward
from .textcat_ngrams import attr_id, char_ngram_cache

# Sentiment labels low to high: a terminal colours what favours the higher one green, as it does
# for labels that are numbers (of stars); for other labels, what favours the label explained.
POLARITY = ("NEG", "NEU", "POS")


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
    other (str): The label it is weighed against, by default the runner-up (the most likely other one).
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

    nlp (Language): A pipeline with a textcat whose model is one of textcat_models' bag-of-words
        architectures (TextCatBOWBatched.v2, .v3; TextCatBOWEmbed.v2, whose dense branch is
        one "dense" contribution).
    text (str): The text to explain.
    top_k (Optional[int]): Keep the top_k largest contributions; the others' sum is `rest`.
    label (Optional[str]): The label to explain; by default the predicted one (of equal
        probabilities, the first in the textcat's labels).
    other (Optional[str]): The label to weigh it against; by default the runner-up, the most
        likely other one (of equal probabilities, the first in the textcat's labels).
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
        dense_row = numpy.asarray(dense_forward(dense, X, False)[0], dtype="float64")[0]
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
    scores = ngram_scores(nlp, texts, min_docs, component)
    i, j = _label_indices(scores.labels, label, other)
    weights = scores.scores[:, i] - scores.scores[:, j]
    ranked = sorted(zip(scores.ngrams, weights.tolist(), scores.docs), key=lambda found: -abs(found[1]))
    return [(ngram, weight, docs) for ngram, weight, docs in ranked]


@dataclass
class NgramScores:
    """The word n-grams found in some texts and what each adds on its own (value 1) to every logit.

    labels (List[str]): The textcat's labels, the columns of scores.
    ngrams (List[str]): Each n-gram as it is first spelt in the texts.
    docs (List[int]): In how many texts each occurs.
    scores (numpy.ndarray): One row per n-gram, one column per label.
    """

    labels: List[str]
    ngrams: List[str]
    docs: List[int]
    scores: numpy.ndarray


def ngram_scores(nlp: Language, texts: Iterable[str], min_docs: int = 5, component: Optional[str] = None) -> NgramScores:
    """The word n-grams found in at least min_docs of texts, with their rows of the sparse linear
    layer's scores for all labels at once (top_features weighs two of the columns)."""
    textcat = nlp.get_pipe(component or _textcat_name(nlp))
    features, _, linear, _ = _explainable_parts(textcat.model)
    names: Dict[int, str] = {}
    docs: Dict[int, int] = {}
    for doc in nlp.pipe(texts):
        for key, found in _key_occurrences(doc, features).items():
            if found[0][0] == "ngram":
                names.setdefault(key, found[0][1])
                docs[key] = docs.get(key, 0) + 1
    keys = [key for key, n in docs.items() if n >= min_docs]
    key_array = linear.ops.asarray(numpy.asarray(keys, dtype="uint64"), dtype="uint64")
    scores = _key_scores(linear, key_array, linear.ops.alloc1f(len(keys)) + 1.0)
    return NgramScores(list(textcat.labels), [names[key] for key in keys], [docs[key] for key in keys], scores)


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
    the dense branch (or None) of a model of textcat_models' bag-of-words architectures."""
    layers = model.layers
    if len(layers) == 3 and layers[0].name == "extract_ngrams_batched" and layers[2].name == PROB_HEAD:
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


def _key_occurrences(doc: Doc, features: Model) -> Dict[int, List[Tuple[str, str, int, int]]]:
    """RETURNS: For each key the feature layer gives the doc, its occurrences in the order the
    layer lists them: (kind, feature, start token, end token)."""
    ngram_size = features.attrs["ngram_size"]
    lower = features.attrs["attr"] == attr_id("LOWER")
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
    """RETURNS (str): The probabilities (the label explained first, then the others, most likely
    first), the text (with color, its tokens coloured by weight) and the contributions, for a
    terminal: green favours the label higher on a polarity scale (POLARITY), else the label
    explained; red the other."""
    label, other = explanation.label, explanation.other
    sign = 1.0 if _green_favours(label, other) else -1.0  # sign * weight > 0: green

    def paint(text: str, weight: float, scale: float = 1.0) -> str:
        if not color or not weight:
            return text
        code = "32" if sign * weight > 0 else "31"
        return f"\033[{'1;' if abs(weight) >= scale else ''}{code}m{text}\033[0m"

    others = sorted((name for name in explanation.cats if name != label), key=lambda name: -explanation.cats[name])
    shown = ", ".join(f"{name} {explanation.cats[name]:.3f}" for name in others)
    lines = [f"{label} {explanation.cats[label]:.3f} ({shown})"]
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


def _green_favours(label: str, other: str) -> bool:
    """Whether green marks what favours `label` over `other`: unless both are on a polarity scale
    (POLARITY, or numbers of stars) and `other` is the higher."""
    if label in POLARITY and other in POLARITY:
        return POLARITY.index(label) > POLARITY.index(other)
    if label.isdecimal() and other.isdecimal():
        return int(label) > int(other)
    return True


def explain_cli(nlp: Language, argv: Optional[Sequence[str]] = None) -> int:
    """`python -m {package} [TEXT ...]`: print each text's probabilities (most likely first) and the top
    contributions to the predicted label's logit minus the runner-up's (the texts from standard
    input, one per line, where none are given)."""
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
