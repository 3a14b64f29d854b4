import pytest

from review_distill.errors import DataError, MissingInput
from review_distill.tasks import check_polarity_values, make_task, read_task, to_label, write_task


@pytest.mark.parametrize(
    "value,scheme,task,expected",
    [(0, "stars0", "binary", "NEG"), (1, "stars0", "binary", "NEG"), (2, "stars0", "binary", "POS"),
     (4, "stars0", "binary", "POS"), (2, "stars", "binary", "NEG"), ("5", "stars", "binary", "POS"),
     (1, "stars0", "three_way", "NEG"), (2, "stars0", "three_way", "NEU"), (3, "stars0", "three_way", "POS"),
     (0, "stars0", "stars", "1"), ("5", "stars", "stars", "5"), (3.0, "stars", "stars", "3"),
     (4, "stars0", "categories", "5"),
     (0, "labels", "binary", "NEG"), (1, "labels", "binary", "POS"), (-1, "labels", "binary", "NEG"),
     ("pos", "labels", "binary", "POS"), ("NEG", "labels", "binary", "NEG"), (" Negative ", "labels", "binary", "NEG"),
     ("positive", "labels", "binary", "POS"), (-1, "labels", "three_way", "NEG"), (0, "labels", "three_way", "NEU"),
     ("+1", "labels", "three_way", "POS"), ("Neutral", "labels", "three_way", "NEU"),
     (" shipping ", "labels", "categories", "shipping"), (2, "labels", "categories", "2"),
     ("", "stars", "binary", None), (None, "labels", "categories", None), ("  ", "labels", "categories", None)],
)
def test_to_label(value, scheme, task, expected):
    assert to_label(value, task, scheme) == expected


@pytest.mark.parametrize(
    "value,scheme,task,error",
    [(5, "stars0", "binary", "label must be an integer 0-4"), (0, "stars", "stars", "label must be an integer 1-5"),
     (True, "stars0", "binary", "label must be an integer"), (2.5, "stars", "binary", "label must be an integer"),
     ("great", "stars", "binary", "a column of names needs label_scheme=labels"),
     (2, "labels", "binary", "the task binary reads labels 0/1"), ("neutral", "labels", "binary", "task=categories"),
     ("POS", "labels", "stars", "the task stars needs a stars column"), ([1], "labels", "categories", "string or number")],
)
def test_to_label_rejects(value, scheme, task, error):
    with pytest.raises(ValueError, match=error):
        to_label(value, task, scheme)


def test_polarity_numbers_of_another_task_are_rejected():
    check_polarity_values([0, 1], "binary", "labels")
    check_polarity_values([-1, 1], "binary", "labels")
    check_polarity_values([-1, 0, 1], "three_way", "labels")
    check_polarity_values([0, 1, 2], "binary", "stars0")
    with pytest.raises(ValueError, match="set task=three_way"):
        check_polarity_values(["-1", "0", "1"], "binary", "labels")
    with pytest.raises(ValueError, match="set task=binary"):
        check_polarity_values([0, 1], "three_way", "labels")


def test_tasks_and_their_scales(tmp_path):
    binary, stars = make_task("binary"), make_task("stars")
    assert binary.labels == ("POS", "NEG") and binary.rank("POS") == 1 and binary.ordered
    assert [stars.to_binary(label) for label in stars.labels] == ["NEG", "NEG", "POS", "POS", "POS"]
    categories = make_task("categories", ["shipping", "quality", "price", "quality"])
    assert categories.labels == ("price", "quality", "shipping") and not categories.ordered
    write_task(tmp_path / "task.json", categories)
    assert read_task(tmp_path / "task.json") == categories
    with pytest.raises(MissingInput, match="run `spacy project run preprocess` first"):
        read_task(tmp_path / "none.json")
    with pytest.raises(MissingInput, match="run `spacy project run data` first"):
        read_task(tmp_path / "none.json", step="data")


@pytest.mark.parametrize("name,labels,error", [("stars5", (), "Unknown task 'stars5'"),
                                                ("categories", ["only"], "only 'only'"),
                                                ("categories", [], "the labelled reviews have none")])
def test_bad_tasks(name, labels, error):
    with pytest.raises(DataError, match=error):
        make_task(name, labels)
