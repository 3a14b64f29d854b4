import pytest

from review_distill.errors import DataError, MissingInput
from review_distill.tasks import (MANY_LABEL_DEFAULTS, TWO_LABEL_DEFAULTS, check_polarity_values, make_task, read_task,
                                  task_setting, to_label, write_task)


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


@pytest.mark.parametrize("task,defaults", [(make_task("binary"), TWO_LABEL_DEFAULTS),
                                           (make_task("categories", ["spam", "ham"]), TWO_LABEL_DEFAULTS),
                                           (make_task("three_way"), MANY_LABEL_DEFAULTS),
                                           (make_task("stars"), MANY_LABEL_DEFAULTS),
                                           (make_task("categories", ["a", "b", "c"]), MANY_LABEL_DEFAULTS)])
def test_auto_settings_follow_the_number_of_labels(task, defaults):
    for name in ("pool_size", "augmented_size", "teacher_frozen_fraction", "teacher_frozen_embeddings",
                 "teacher_attention_dropout"):
        assert task_setting("auto", name, task) == getattr(defaults, name)


def test_the_binary_task_keeps_the_hour_long_runs_settings():
    """The binary default run's sizes and teacher, as before the defaults depended on the task."""
    binary = make_task("binary")
    assert [task_setting("auto", name, binary) for name in
            ("pool_size", "augmented_size", "teacher_frozen_fraction", "teacher_frozen_embeddings",
             "teacher_attention_dropout")] == [5000, 0, 0.5, "all", 0.0]


def test_a_setting_given_overrides_auto():
    stars = make_task("stars")
    assert task_setting("300", "pool_size", stars) == 300
    assert task_setting("-1", "augmented_size", make_task("binary")) == -1
    assert task_setting("0.25", "teacher_frozen_fraction", stars) == 0.25
    assert isinstance(task_setting("0", "teacher_attention_dropout", stars), float)
    assert task_setting("words", "teacher_frozen_embeddings", make_task("binary")) == "words"


@pytest.mark.parametrize("value,name,error", [("1.5", "pool_size", "pool_size must be auto or a whole number, got '1.5'"),
                                              ("all", "augmented_size", "must be auto or a whole number"),
                                              ("half", "teacher_frozen_fraction", "must be auto or a number, got 'half'"),
                                              ("0.5", "teacher_frozen_embeddings",
                                               "must be auto, all or words, got '0.5'")])
def test_a_bad_setting_is_named(value, name, error):
    with pytest.raises(DataError, match=error):
        task_setting(value, name, make_task("stars"))
