"""textcat_explain.explain: exact contributions of a student's n-grams to its logit difference."""
import math

import pytest
import spacy

from review_distill.reviews import tokenizer_overrides
from review_distill.textcat_explain import (
    Contribution, Explanation, explain, explain_cli, format_explanation, top_features,
)
from review_distill.textcat_tokenizers import encodable
from util import BOW, BOW_DAN_V2, BOW_V3, ENSEMBLE, MODELS, randomize

# The architectures explain() supports, and the students' own settings of them.
EXPLAINED = {
    "batched_bow": MODELS["batched_bow"],
    "bow_v3": BOW_V3,
    "bow_v3_words": {**BOW_V3, "char_ngram_sizes": []},
    "bow_v3_trigrams_counts": {**BOW_V3, "ngram_size": 3, "char_ngram_sizes": [], "normalize": False},
    "bow_dan_v2": BOW_DAN_V2,
}
TEXTS = [
    "Great phone , great price . Great !",
    "It broke after a day and the seller never answered",
    "ok",
    "",
    "   ",
    "Not good. not GOOD. Not good at all " * 40,
]


THREE_WAY = ("NEG", "NEU", "POS")
STARS = ("1", "2", "3", "4", "5")


def random_pipe(model, lang="en", chars=False, seed=0, labels=("POS", "NEG")):
    """A textcat_distill pipeline with random weights; its tokenizer wrapped as the students'."""
    inner = tokenizer_overrides(lang, chars=chars, wrapped=True)["nlp.tokenizer.tokenizer"]
    nlp = spacy.blank(lang, config={"nlp": {"tokenizer": {"@tokenizers": "review_distill.encodable_tokenizer.v1",
                                                          "tokenizer": inner}}})
    pipe = nlp.add_pipe("textcat_distill", config={"model": model})
    for label in labels:
        pipe.add_label(label)
    nlp.initialize()
    randomize(pipe.model, seed)
    return nlp


def check_sums(explanation, lower=True):
    """The bias and the contributions add up to the logit difference (to 1e-5, and 1e-5 of the
    terms' magnitudes, which the model sums in float32); the spans point at the n-grams; the
    tokens' shares add up to the n-grams' weights."""
    terms = [explanation.bias, explanation.rest, *(c.weight for c in explanation.contributions)]
    magnitude = math.fsum(abs(term) for term in terms)
    assert math.fsum(terms) == pytest.approx(explanation.logit_diff, abs=1e-5 + 1e-5 * magnitude)
    cats = explanation.cats
    if min(cats[explanation.label], cats[explanation.other]) > 1e-6:  # else float32 probabilities hold no logit difference
        assert math.log(cats[explanation.label] / cats[explanation.other]) == pytest.approx(explanation.logit_diff, abs=1e-4)
    for contribution in explanation.contributions:
        assert contribution.spans or contribution.kind == "dense"
        for start, end in contribution.spans:
            spelled = encodable(explanation.text)[start:end]  # the doc spells a lone surrogate U+FFFD
            if contribution.kind == "ngram":
                assert (spelled.lower() if lower else spelled) == contribution.feature
            else:
                assert contribution.feature.strip("<>") in spelled.lower()
    linear = [c.weight for c in explanation.contributions if c.kind != "dense"]
    if explanation.rest == 0:
        assert math.fsum(weight for _, _, weight in explanation.tokens) == pytest.approx(math.fsum(linear), abs=1e-6)


@pytest.mark.parametrize("model_name", list(EXPLAINED))
def test_contributions_add_up_to_the_logit_difference(model_name):
    nlp = random_pipe(EXPLAINED[model_name])
    lower = EXPLAINED[model_name].get("@architectures") != "review_distill.TextCatBOWBatched.v2"  # v2 reads ORTH
    for text in TEXTS:
        explanation = explain(nlp, text)
        check_sums(explanation, lower)
        assert explanation.label == max(explanation.cats, key=explanation.cats.get)
        weights = [abs(c.weight) for c in explanation.contributions]
        assert weights == sorted(weights, reverse=True)
        if not text:  # the bias, and the dense branch's output for no features
            assert [c.kind for c in explanation.contributions] == ["dense"] * (model_name == "bow_dan_v2")
    dense = [c for c in explain(nlp, TEXTS[0]).contributions if c.kind == "dense"]
    assert len(dense) == (model_name == "bow_dan_v2")


@pytest.mark.parametrize("labels", [THREE_WAY, STARS], ids=["three_way", "stars"])
@pytest.mark.parametrize("model_name", list(EXPLAINED))
def test_contributions_add_up_for_any_pair_of_labels(model_name, labels):
    """With three and five labels: by default the predicted label against the runner-up; any
    pair adds up to its own logit difference, and the differences of pairs add up as the
    logits do (logit(a) - logit(c) = (logit(a) - logit(b)) + (logit(b) - logit(c)))."""
    nlp = random_pipe(EXPLAINED[model_name], labels=labels, seed=len(labels))
    lower = EXPLAINED[model_name].get("@architectures") != "review_distill.TextCatBOWBatched.v2"
    for text in TEXTS:
        explanation = explain(nlp, text)
        check_sums(explanation, lower)
        ranked = sorted(labels, key=lambda name: -explanation.cats[name])
        assert (explanation.label, explanation.other) == tuple(ranked[:2])
        assert list(explanation.cats) == list(labels)
        for label, other in ((labels[0], labels[-1]), (labels[-1], labels[1]), (labels[1], labels[0])):
            check_sums(explain(nlp, text, label=label, other=other), lower)
        a, b, c = labels[:3]
        ab, bc, ac = (explain(nlp, text, label=x, other=y) for x, y in ((a, b), (b, c), (a, c)))
        assert ac.logit_diff == pytest.approx(ab.logit_diff + bc.logit_diff, abs=1e-5)
        assert ac.bias == pytest.approx(ab.bias + bc.bias, abs=1e-6)
        weights = {(x.feature, x.kind): x.weight for x in ab.contributions}
        for x in bc.contributions:
            weights[x.feature, x.kind] = weights.get((x.feature, x.kind), 0.0) + x.weight
        assert {(x.feature, x.kind): x.weight for x in ac.contributions} == pytest.approx(weights, abs=1e-6)


def test_explained_label_alone_is_weighed_against_the_most_likely_other():
    nlp = random_pipe(BOW_V3, labels=STARS, seed=5)
    cats = nlp(TEXTS[1]).cats
    for label in STARS:
        explanation = explain(nlp, TEXTS[1], label=label)
        assert explanation.other == max((name for name in STARS if name != label), key=cats.get)
        check_sums(explanation)


@pytest.mark.parametrize("labels", [("POS", "NEG"), THREE_WAY, STARS], ids=["binary", "three_way", "stars"])
def test_top_features_weigh_any_pair(labels):
    """top_features' weight of an n-gram is what it adds on its own (value 1) to logit(label) -
    logit(other): an n-gram's explanation, less the bias; the reverse pair is its negative."""
    nlp = random_pipe(EXPLAINED["bow_v3_trigrams_counts"], labels=labels, seed=7)
    texts = ["good phone", "good price", "bad phone", "good good"]
    label, other = labels[-1], labels[0]
    features = top_features(nlp, texts, label, other, min_docs=2)
    assert {feature for feature, _, _ in features} == {"good", "phone"}
    weights = [abs(weight) for _, weight, _ in features]
    assert weights == sorted(weights, reverse=True)
    for feature, weight, n_docs in features:
        assert n_docs == {"good": 3, "phone": 2}[feature]
        alone = explain(nlp, feature, label=label, other=other)
        assert weight == pytest.approx(alone.logit_diff - alone.bias, abs=1e-5)
    reverse = top_features(nlp, texts, other, label, min_docs=2)
    assert [(feature, n) for feature, _, n in reverse] == [(feature, n) for feature, _, n in features]
    assert [-weight for _, weight, _ in reverse] == pytest.approx([weight for _, weight, _ in features])
    with pytest.raises(ValueError, match="'MEH' is not a label of the textcat"):
        top_features(nlp, texts, "MEH", other)


def test_repeated_ngrams_are_one_contribution_with_every_span():
    nlp = random_pipe(EXPLAINED["bow_v3_words"])
    text = TEXTS[0]
    (great,) = [c for c in explain(nlp, text).contributions if c.feature == "great"]
    assert great.spans == [(0, 5), (14, 19), (28, 33)]


def test_top_k_keeps_the_largest_and_sums_the_rest():
    nlp = random_pipe(BOW_V3)
    full = explain(nlp, TEXTS[1])
    top = explain(nlp, TEXTS[1], top_k=3)
    assert top.contributions == full.contributions[:3]
    assert top.rest == pytest.approx(math.fsum(c.weight for c in full.contributions[3:]), abs=1e-9)
    check_sums(top)


def test_label_and_other_choose_the_difference():
    nlp = random_pipe(BOW_V3)
    predicted = explain(nlp, TEXTS[1])
    flipped = explain(nlp, TEXTS[1], label=predicted.other, other=predicted.label)
    assert flipped.logit_diff == pytest.approx(-predicted.logit_diff)
    assert [c.weight for c in flipped.contributions] == pytest.approx([-c.weight for c in predicted.contributions])
    with pytest.raises(ValueError, match="'MEH' is not a label of the textcat"):
        explain(nlp, "ok", label="MEH")
    with pytest.raises(ValueError, match="label and other are both 'POS'"):
        explain(nlp, "ok", label="POS", other="POS")


@pytest.mark.parametrize("model", [BOW, ENSEMBLE], ids=["spacy_bow", "spacy_ensemble"])
def test_other_architectures_are_refused(model):
    nlp = random_pipe(model)
    with pytest.raises(ValueError, match="not one of the explained architectures"):
        explain(nlp, "ok")


@pytest.mark.parametrize("lang, chars", [("ja", True), ("zh", True), ("zh", False)])
def test_spans_are_offsets_in_the_original_text(lang, chars):
    """Character tokens and jieba's words; an emoji outside the BMP and half of one (a lone
    surrogate, tokenized as U+FFFD) before the n-grams do not shift their offsets."""
    nlp = random_pipe({**BOW_V3, "ngram_size": 3, "char_ngram_sizes": []}, lang, chars)
    text = "😀 \ud83d 质量很好，非常喜欢！" if lang == "zh" else "😀 \ud83d とても良い本です。"
    explanation = explain(nlp, text)
    check_sums(explanation)
    (first,) = [c for c in explanation.contributions if c.feature == ("质量" if lang == "zh" and not chars else text[4])]
    assert first.spans == [(4, 6 if lang == "zh" and not chars else 5)]


def test_format_and_cli(capsys):
    nlp = random_pipe(BOW_V3)
    explanation = explain(nlp, TEXTS[1], top_k=2)
    plain = format_explanation(explanation)
    assert str(explanation) == plain
    assert plain.splitlines()[0] == (f"{explanation.label} {explanation.cats[explanation.label]:.3f} "
                                     f"({explanation.other} {explanation.cats[explanation.other]:.3f})")
    assert plain.splitlines()[1] == TEXTS[1] and "\033[" not in plain
    assert f"{explanation.contributions[0].weight:+.3f}  {explanation.contributions[0].feature}" in plain
    colored = format_explanation(explanation, color=True)
    assert "\033[32m" in colored or "\033[31m" in colored
    assert explain_cli(nlp, ["--top-k", "2", "--color", "never", TEXTS[1], "ok"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(plain) and out.count("(bias)") == 2


@pytest.mark.parametrize("labels", [THREE_WAY, STARS], ids=["three_way", "stars"])
def test_cli_prints_every_label_most_likely_first(capsys, labels):
    """The first line: every label's probability, most likely first; then the predicted label's
    contributions against the runner-up's."""
    nlp = random_pipe(BOW_V3, labels=labels, seed=2)
    assert explain_cli(nlp, ["--top-k", "3", "--color", "never", TEXTS[1]]) == 0
    out = capsys.readouterr().out
    cats = nlp(TEXTS[1]).cats
    ranked = sorted(labels, key=lambda name: -cats[name])
    assert out.splitlines()[0] == f"{ranked[0]} {cats[ranked[0]]:.3f} (" + ", ".join(
        f"{name} {cats[name]:.3f}" for name in ranked[1:]) + ")"
    assert f"Contributions to logit({ranked[0]}) - logit({ranked[1]}) = " in out and out.count("(bias)") == 1


@pytest.mark.parametrize("label, other, green", [
    ("POS", "NEG", True), ("NEG", "POS", False), ("NEU", "POS", False), ("NEU", "NEG", True),
    ("4", "2", True), ("1", "5", False), ("books", "toys", True), ("toys", "books", True), ("POS", "toys", True),
])
def test_colours_follow_polarity_where_the_labels_have_one(label, other, green):
    """Green marks what favours the label higher on a polarity scale (sentiment's names, numbers of
    stars), else what favours the label explained."""
    explanation = Explanation(text="good", label=label, other=other, cats={label: 0.7, other: 0.3}, logit_diff=1.0,
                              bias=0.0, contributions=[Contribution("good", "ngram", 1.0, [(0, 4)])], rest=0.0,
                              tokens=[(0, 4, 1.0)])
    colored = format_explanation(explanation, color=True)
    assert f"\033[1;{32 if green else 31}mgood\033[0m" in colored
    assert f"\033[1;{32 if green else 31}m+1.000\033[0m" in colored
