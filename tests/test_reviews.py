import re

import pytest

from util import write_lines
from review_distill.errors import DataError
from review_distill.files import atomic_path
from review_distill.reviews import check_lang, check_unlabeled, make_nlp, normalize_text, read_reviews


def test_normalize_text_ignores_case_width_and_spacing():
    assert normalize_text("Great  product!\n") == normalize_text("great product！")


def test_read_jsonl(tmp_path):
    path = write_lines(tmp_path / "train.jsonl", [{"id": "a", "text": " Nice ", "label": 4}, {"text": "Bad", "label": 0}])
    assert read_reviews(path) == [
        {"id": "a", "text": "Nice", "label": "POS"},
        {"id": "train_2", "text": "Bad", "label": "NEG"},
    ]


def test_read_csv_with_stars_column(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text('body,stars\n"Works, great",5\nBroke after a day,2\n', encoding="utf8")
    reviews = read_reviews(path, text_field="body", label_field="stars", label_scheme="stars")
    assert [(r["text"], r["label"]) for r in reviews] == [("Works, great", "POS"), ("Broke after a day", "NEG")]


@pytest.mark.parametrize(
    "lines,error",
    [
        (['{"text": "ok", "label": 1}', '{"text": "ok", "label": '], r"train.jsonl:2: malformed JSON"),
        (['{"text": "ok", "label": 1}', '["text"]'], r"train.jsonl:2: expected a JSON object"),
        (['{"label": 1}'], r"train.jsonl:1: missing field 'text'"),
        (['{"text": "ok"}'], r"train.jsonl: no review has a label in field 'label'"),
        (['{"text": "ok", "label": 1}', '{"text": "ok", "label": 7}'], r"train.jsonl:2: label must be an integer 0-4"),
        (['{"text": "  ", "label": 1}'], r"train.jsonl:1: empty text"),
        (['{"text": null, "label": 1}'], r"train.jsonl:1: empty text"),
        ([""], r"no reviews"),
    ],
)
def test_read_jsonl_errors_name_file_and_line(tmp_path, lines, error):
    path = write_lines(tmp_path / "train.jsonl", lines)
    with pytest.raises(DataError, match=error):
        read_reviews(path)


def test_malformed_csv_row(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("text,label\ngood,1\nbad\n", encoding="utf8")
    with pytest.raises(DataError, match=r"mine.csv:3: malformed CSV row: expected 2 columns"):
        read_reviews(path, label_scheme="labels")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_reviews(tmp_path / "nope.jsonl")


def test_unknown_language():
    with pytest.raises(DataError, match="Unknown language code 'zz'"):
        check_lang("zz")


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_a_directory_whole(tmp_path):
    target = tmp_path / "model"
    (target / "old").mkdir(parents=True)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "half").write_text("x")
            raise RuntimeError("interrupted")
    assert [path.name for path in tmp_path.iterdir()] == ["model"] and (target / "old").is_dir()
    with atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "new").write_text("x")
    assert [path.name for path in target.iterdir()] == ["new"]


@pytest.mark.parametrize(
    "lang,text,words",
    [("ja", "とても良い商品でした。", ["とても", "良い", "商品", "でし", "た", "。"]),
     ("zh", "这个产品很好。", ["这个", "产品", "很", "好", "。"])],
)
def test_cjk_tokenizers_segment_words(lang, text, words):
    assert [token.text for token in make_nlp(lang)(text)] == words


def test_a_file_without_labels_is_read_as_text_only_where_labels_are_not_required(tmp_path):
    path = write_lines(tmp_path / "nl.jsonl", [{"text": "Prima"}, {"id": "b", "text": "Kapot"}])
    assert read_reviews(path, require_labels=False) == [{"id": "nl_1", "text": "Prima"}, {"id": "b", "text": "Kapot"}]
    labelled = write_lines(tmp_path / "labelled.jsonl", [{"text": "Prima", "label": 4}])
    assert read_reviews(labelled, require_labels=False) == [{"id": "labelled_1", "text": "Prima", "label": "POS"}]
    with pytest.raises(DataError, match=r"nl.jsonl: no review has a label in field 'label'; a file without labels "
                                        "is for a language of unlabeled_languages only"):
        read_reviews(path)


def test_a_file_may_mix_labelled_and_unlabelled_reviews(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("text,label\nPrima,4\nKapot,\nGaat wel,2\n", encoding="utf8")
    assert read_reviews(path, task="three_way") == [
        {"id": "mixed_2", "text": "Prima", "label": "POS"}, {"id": "mixed_3", "text": "Kapot"},
        {"id": "mixed_4", "text": "Gaat wel", "label": "NEU"}]
    jsonl = write_lines(tmp_path / "mixed.jsonl", [{"text": "Prima"}, {"text": "Kapot", "label": None},
                                                  {"text": "Gaat", "label": "shipping"}])
    assert [review.get("label") for review in read_reviews(jsonl, label_scheme="labels", task="categories")] == [
        None, None, "shipping"]


@pytest.mark.parametrize("lines,scheme,task,error", [
    ([{"text": "a", "label": "POS"}], "stars", "stars", r"x.jsonl:1: label must be an integer 1-5 \(stars\), got 'POS'"),
    ([{"text": "a", "label": "POS"}], "labels", "stars", r"x.jsonl:1: the task stars needs a stars column"),
    ([{"text": "a", "label": "meh"}], "labels", "binary", r"x.jsonl:1: the task binary reads labels 0/1, -1/1"),
    ([{"text": "a", "label": -1}, {"text": "b", "label": 0}, {"text": "c", "label": 1}], "labels", "binary",
     r"x.jsonl: the labels -1, 0 and 1 are three-way sentiment: set task=three_way"),
    ([{"text": "a", "label": 0}, {"text": "b", "label": 1}], "labels", "three_way",
     r"x.jsonl: the labels 0 and 1 are binary: set task=binary"),
])
def test_labels_the_task_cannot_read_name_the_file_and_line(tmp_path, lines, scheme, task, error):
    path = write_lines(tmp_path / "x.jsonl", lines)
    with pytest.raises(DataError, match=error):
        read_reviews(path, label_scheme=scheme, task=task)


@pytest.mark.parametrize("languages,unlabeled,error", [
    (["en", "zh"], ["en", "zh"], "Every language is unlabeled (en zh): the teacher learns from the gold labels"),
    (["en"], ["nl"], "unlabeled_languages names nl, which languages does not: add it to languages"),
])
def test_check_unlabeled(languages, unlabeled, error):
    with pytest.raises(DataError, match=re.escape(error)):
        check_unlabeled(languages, unlabeled)
    check_unlabeled(["en", "nl"], ["nl"])
