"""scripts/examples.py: the page of explained test reviews."""
from review_distill.examples import highlight, pick, render_page, weight_style


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
