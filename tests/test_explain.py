"""textcat_explain.explain: exact contributions of a student's n-grams to its logit difference."""
import math

import pytest
import spacy

from review_distill.reviews import tokenizer_overrides
from review_distill.textcat_explain import explain, explain_cli, format_explanation
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


def random_pipe(model, lang="en", chars=False, seed=0):
    """A textcat_distill pipeline with random weights; its tokenizer wrapped as the students'."""
    inner = tokenizer_overrides(lang, chars=chars, wrapped=True)["nlp.tokenizer.tokenizer"]
    nlp = spacy.blank(lang, config={"nlp": {"tokenizer": {"@tokenizers": "review_distill.encodable_tokenizer.v1",
                                                          "tokenizer": inner}}})
    pipe = nlp.add_pipe("textcat_distill", config={"model": model})
    for label in ("POS", "NEG"):
        pipe.add_label(label)
    nlp.initialize()
    randomize(pipe.model, seed)
    return nlp


def check_sums(explanation, lower=True):
    """The bias and the contributions add up to the logit difference (to 1e-5; relative 1e-5 for a
    logit difference beyond 1, which the model sums in float32); the spans point at the n-grams;
    the tokens' shares add up to the n-grams' weights."""
    total = explanation.bias + math.fsum(c.weight for c in explanation.contributions) + explanation.rest
    assert total == pytest.approx(explanation.logit_diff, abs=1e-5, rel=1e-5)
    cats = explanation.cats
    if cats[explanation.other] > 1e-6:  # else float32 probabilities hold no logit difference
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
