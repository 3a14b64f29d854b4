import re

import pytest

from util import write_lines
from review_distill.errors import DataError
from review_distill.files import atomic_path
from review_distill.reviews import binary_label, check_lang, check_unlabeled, make_nlp, normalize_text, read_reviews


@pytest.mark.parametrize(
    "value,scheme,expected",
    [(0, "stars0", "NEG"), (1, "stars0", "NEG"), (2, "stars0", "POS"), (4, "stars0", "POS"),
     (1, "stars", "NEG"), (2, "stars", "NEG"), (3, "stars", "POS"), ("5", "stars", "POS"),
     (0, "binary", "NEG"), (1, "binary", "POS"), ("pos", "binary", "POS"), ("NEG", "binary", "NEG")],
)
def test_binary_label(value, scheme, expected):
    assert binary_label(value, scheme) == expected


@pytest.mark.parametrize(
    "value,scheme", [(5, "stars0"), (-1, "stars0"), (0, "stars"), (6, "stars"), (2, "binary"),
                     (True, "binary"), ("great", "stars"), (2.5, "stars"), (None, "stars0")]
)
def test_binary_label_out_of_range(value, scheme):
    with pytest.raises(ValueError, match="label must be"):
        binary_label(value, scheme)


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
        (['{"text": "ok"}'], r"train.jsonl:1: missing field 'label'"),
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
        read_reviews(path, label_scheme="binary")


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
    with pytest.raises(DataError, match=r"nl.jsonl:1: missing field 'label'; a file without labels is for a language "
                                        "of unlabeled_languages only"):
        read_reviews(path)
    mixed = write_lines(tmp_path / "mixed.jsonl", [{"text": "Prima"}, {"text": "Kapot", "label": 0}])
    with pytest.raises(DataError, match=r"mixed.jsonl:2: field 'label' in a file whose first record has none"):
        read_reviews(mixed, require_labels=False)
    mixed = write_lines(tmp_path / "mixed.jsonl", [{"text": "Prima", "label": 4}, {"text": "Kapot"}])
    with pytest.raises(DataError, match=r"mixed.jsonl:2: missing field 'label' \(the records before it have one\)"):
        read_reviews(mixed, require_labels=False)


@pytest.mark.parametrize("languages,unlabeled,error", [
    (["en", "zh"], ["en", "zh"], "Every language is unlabeled (en zh): the teacher learns from the gold labels"),
    (["en"], ["nl"], "unlabeled_languages names nl, which languages does not: add it to languages"),
])
def test_check_unlabeled(languages, unlabeled, error):
    with pytest.raises(DataError, match=re.escape(error)):
        check_unlabeled(languages, unlabeled)
    check_unlabeled(["en", "nl"], ["nl"])
