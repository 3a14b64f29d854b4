"""scripts/examples.py: the page of explained test reviews."""
import pytest

from review_distill.examples import (highlight, label_features, language_section, pick, probabilities, render_page,
                                     runner_up, weight_style)
from review_distill.tasks import make_task
from review_distill.textcat_explain import top_features


def test_groups_are_disjoint_and_short_reviews_come_first():
    gold = ["POS", "POS", "NEG", "NEG", "POS", "NEG", "POS"]
    student = ["POS", "NEG", "NEG", "POS", "POS", "NEG", "NEG"]
    teacher = ["POS", "POS", "NEG", "NEG", "NEG", "NEG", "NEG"]
    lengths = [10, 10, 10, 10, 10, 5000, 10]
    picked = pick(gold, student, teacher, lengths, n=2, seed="x")
    assert set(picked["disagrees"]) <= {1, 3, 4} and len(picked["disagrees"]) == 2
    assert set(picked["wrong"]) <= {1, 3, 6} - set(picked["disagrees"])
    assert picked["right"] == [0, 2]  # 5 is right too, but long
    assert pick(gold, student, teacher, lengths, n=2, seed="x") == picked


def test_highlight_escapes_and_colours_by_direction():
    text = "<b>great</b> & bad"
    tokens = [(3, 8, 1.5), (15, 18, -0.5)]
    out = highlight(text, tokens, scale=1.0)
    assert out.startswith("&lt;b&gt;<span") and "&amp;" in out and "<b>" not in out
    assert f'<span style="{weight_style(1.5, 1.0)}" title="+1.500">great</span>' in out
    assert weight_style(1.5, 1.0) == "background: rgba(0,170,60,0.85)"
    assert weight_style(-0.5, 1.0) == "background: rgba(220,30,30,0.42)"


def test_page_is_self_contained():
    page = render_page({"en": '<h2 id="en">en</h2>'}, "Title <x>")
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page and "Title &lt;x&gt;" in page
    assert "<script" not in page and "http" not in page and "<link" not in page


def toy_pipeline(labels, seed=0):
    """A textcat of review_distill's BOW over `labels`, a word per label, trained a little."""
    import spacy
    from spacy.training import Example

    from review_distill import textcat_models  # noqa: F401  (registers the architecture)
    from util import BOW_V3

    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("textcat", config={"model": {**BOW_V3, "char_ngram_sizes": []}})
    for label in labels:
        textcat.add_label(label)
    examples = [Example.from_dict(nlp.make_doc(f"{WORDS[i]} {thing}"), {"cats": {lab: float(lab == label) for lab in labels}})
                for i, label in enumerate(labels) for thing in THINGS]
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(30):
        nlp.update(examples, sgd=optimizer)
    return nlp


WORDS = ["awful", "poor", "okay", "good", "superb"]
THINGS = ["phone", "case", "lamp", "book", "shoes", "cable"]


@pytest.mark.parametrize("task_name", ["binary", "three_way", "stars"])
def test_each_review_is_explained_as_its_label_against_the_runner_up(task_name):
    task = make_task(task_name)
    student = toy_pipeline(task.scale)
    texts = [f"{WORDS[i]} {thing}" for i in range(len(task.scale)) for thing in THINGS]
    gold = [label for label in task.scale for _ in THINGS]
    gold[0] = task.scale[-1]  # one wrong
    teacher_cats = [dict(doc.cats) for doc in student.pipe(texts)]
    section = language_section("en", student, teacher_cats, texts, gold, n=2, top_n=3, task=task)
    for label in task.labels:
        assert f"The n-grams that weigh most towards {label}" in section
    assert ("(against the mean of the other labels)" in section) == (len(task.labels) > 2)
    assert ("the gold label is the other" in section) == (task_name == "binary")
    assert "Wrong (the gold label is" in section and "Right, as the teacher" in section
    cats = student(texts[0]).cats
    top, second = sorted(task.labels, key=lambda label: -cats[label])[:2]
    assert f"<b>{top} {cats[top]:.2f}</b>, {second} {cats[second]:.2f}" in section
    assert f"{top} against {second}" in section
    assert section.count('<div class="review">') == 3  # the wrong one and two right; none disagrees
    assert "POS" not in section or "POS" in task.labels


def test_top_ngrams_of_two_labels_are_the_one_against_the_other():
    student = toy_pipeline(("POS", "NEG"))
    texts = [f"{word} {thing}" for word in WORDS for thing in THINGS]
    towards = label_features(student, texts, ("POS", "NEG"), top_n=3)
    top = top_features(student, texts, "POS", "NEG")
    assert towards["POS"] == [(f, w) for f, w, _ in top if w > 0][:3]
    assert towards["NEG"] == [(f, -w) for f, w, _ in top if w < 0][:3]
    five = ("1", "2", "3", "4", "5")
    towards = label_features(toy_pipeline(five), texts, five, top_n=2)
    assert [feature for feature, _ in towards["1"]][0] == "awful" and towards["5"][0][0] == "superb"


def test_runner_up_and_probabilities_follow_the_task_order_on_ties():
    labels = ("NEG", "NEU", "POS")
    cats = {"POS": 0.2, "NEU": 0.4, "NEG": 0.4}
    assert runner_up(cats, labels, "NEG") == "NEU" and runner_up(cats, labels, "NEU") == "NEG"
    assert probabilities(cats, labels) == "<b>NEG 0.40</b>, NEU 0.40, POS 0.20"
