"""review_distill.scores: accuracy, macro-F1, calibration and the scores of tasks of more than two labels."""
import json

import pytest
import spacy
from spacy.tokens import DocBin

from review_distill.errors import DataError, MissingInput
from review_distill.predictions import read_predictions
from review_distill.scores import classification_scores, evaluate_languages, task_score_names, task_scores, top_label
from review_distill.tasks import make_task, write_task

BINARY, THREE_WAY, STARS = make_task("binary"), make_task("three_way"), make_task("stars")
CATEGORIES = make_task("categories", ["billing", "delivery", "quality", "refund"])


def test_binary_scores_are_as_before_tasks():
    gold = ["POS", "POS", "NEG", "NEG"]
    predicted = ["POS", "NEG", "NEG", "NEG"]
    probabilities = [{"POS": 0.9, "NEG": 0.1}, {"POS": 0.4, "NEG": 0.6}, {"POS": 0.2, "NEG": 0.8},
                     {"POS": 0.3, "NEG": 0.7}]
    scores = classification_scores(gold, predicted, probabilities, BINARY)
    assert scores == classification_scores(gold, predicted, probabilities)
    assert list(scores) == ["accuracy", "macro_f1", "n", "ece", "brier"]
    assert scores["accuracy"] == 0.75 and scores["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert task_scores(BINARY, gold, predicted) == {} and task_score_names(BINARY) == ()


def test_ties_go_to_the_first_label_of_the_task():
    assert top_label({"POS": 0.5, "NEG": 0.5}, BINARY.labels) == "POS"
    assert top_label({"NEG": 0.5, "POS": 0.5}, BINARY.labels) == "POS"
    assert top_label({"NEG": 0.3, "NEU": 0.35, "POS": 0.35}, THREE_WAY.labels) == "NEU"


def test_three_way_scores_count_steps_on_the_scale():
    gold = ["NEG", "NEU", "POS", "POS", "NEG", "NEU"]
    predicted = ["NEG", "POS", "NEG", "POS", "NEU", "NEU"]
    probabilities = [dict(zip(THREE_WAY.labels, row)) for row in
                     ([0.8, 0.1, 0.1], [0.1, 0.3, 0.6], [0.5, 0.2, 0.3], [0.0, 0.1, 0.9], [0.3, 0.6, 0.1], [0.2, 0.5, 0.3])]
    scores = classification_scores(gold, predicted, probabilities, THREE_WAY)
    assert scores["accuracy"] == pytest.approx(0.5)
    # F1: NEG 2*1/(2+1+1) = 0.5, NEU 2*1/(2+1+1) = 0.5, POS 2*1/(2+1+1) = 0.5
    assert scores["macro_f1"] == pytest.approx(0.5)
    assert scores["confusion"] == [[1, 1, 0], [0, 1, 1], [1, 0, 1]]  # rows gold, columns predicted: NEG, NEU, POS
    assert scores["mae"] == pytest.approx((0 + 1 + 2 + 0 + 1 + 0) / 6)
    assert scores["within_one"] == pytest.approx(5 / 6)
    # The medians along NEG < NEU < POS: NEG, POS, NEG (0.5 reached at NEG), POS, NEU, NEU.
    assert scores["median_mae"] == pytest.approx((0 + 1 + 2 + 0 + 1 + 0) / 6)
    assert "binary_accuracy" not in scores
    # Brier summed over the three labels, ECE over the top label's probability.
    assert scores["brier"] == pytest.approx(sum(sum((p - float(label == g)) ** 2 for label, p in row.items())
                                                for g, row in zip(gold, probabilities)) / 6)
    assert 0 <= scores["ece"] <= 1
    assert set(task_score_names(THREE_WAY)) == set(scores) - {"accuracy", "macro_f1", "n", "ece", "brier"}
    json.dumps(scores)


def test_stars_scores_add_accuracy_collapsed_to_binary():
    gold = ["1", "2", "3", "4", "5", "5"]
    predicted = ["2", "2", "5", "1", "4", "5"]
    scores = classification_scores(gold, predicted, task=STARS)
    assert scores["confusion"][0] == [0, 1, 0, 0, 0] and scores["confusion"][4] == [0, 0, 0, 1, 1]
    assert sum(map(sum, scores["confusion"])) == 6
    assert scores["mae"] == pytest.approx((1 + 0 + 2 + 3 + 1 + 0) / 6)
    assert scores["within_one"] == pytest.approx(4 / 6)
    # 1-2 NEG, 3-5 POS: 1->2 NEG=NEG, 2->2, 3->5 POS=POS, 4->1 POS!=NEG, 5->4, 5->5
    assert scores["binary_accuracy"] == pytest.approx(5 / 6)
    assert task_score_names(STARS) == ("confusion", "mae", "median_mae", "within_one", "binary_accuracy")


def test_unordered_categories_get_a_confusion_matrix_only():
    gold = ["billing", "delivery", "quality", "refund"]
    scores = classification_scores(gold, ["billing", "quality", "quality", "billing"], task=CATEGORIES)
    assert scores["confusion"] == [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0], [1, 0, 0, 0]]
    assert not {"mae", "median_mae", "within_one", "binary_accuracy"} & set(scores)
    assert task_scores(make_task("categories", ["ham", "spam"]), ["ham"], ["spam"]) == {}


def test_labels_outside_the_task_are_refused():
    with pytest.raises(DataError, match=r"predicted labels \['6'\] are not labels of the task stars"):
        task_scores(STARS, ["1"], ["6"])
    with pytest.raises(DataError, match=r"gold labels \['NEU'\] are not labels of the task binary"):
        classification_scores(["NEU"], ["POS"], task=BINARY)


def three_label_pipeline():
    """A stock textcat over NEG, NEU and POS, trained a little on one word per label."""
    nlp = spacy.blank("en")
    textcat = nlp.add_pipe("textcat")
    examples = []
    for word, label in (("bad", "NEG"), ("okay", "NEU"), ("good", "POS")):
        for thing in ("phone", "case", "lamp"):
            doc = nlp.make_doc(f"{word} {thing}")
            examples.append(spacy.training.Example.from_dict(doc, {"cats": {lab: float(lab == label)
                                                                            for lab in THREE_WAY.labels}}))
    for label in THREE_WAY.labels:
        textcat.add_label(label)
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(30):
        nlp.update(examples, sgd=optimizer)
    return nlp


def test_evaluate_languages_scores_the_task_of_the_corpus(tmp_path):
    nlp = three_label_pipeline()
    docbin = DocBin()
    for word, label in (("bad", "NEG"), ("okay", "NEU"), ("good", "POS"), ("good", "NEU")):
        doc = nlp.make_doc(f"{word} book")
        doc.cats = {lab: float(lab == label) for lab in THREE_WAY.labels}
        docbin.add(doc)
    (tmp_path / "en").mkdir()
    docbin.to_disk(tmp_path / "en" / "test.spacy")
    with pytest.raises(MissingInput, match="task.json"):
        evaluate_languages(lambda lang: nlp, ["en"], tmp_path, "test", tmp_path / "metrics.json")
    write_task(tmp_path / "task.json", THREE_WAY)
    metrics = evaluate_languages(lambda lang: nlp, ["en"], tmp_path, "test", tmp_path / "metrics.json")
    on_disk = json.loads((tmp_path / "metrics.json").read_text())
    assert on_disk == json.loads(json.dumps(metrics))
    assert on_disk["en"]["confusion"] == [[1, 0, 0], [0, 1, 1], [0, 0, 1]]
    assert on_disk["en"]["accuracy"] == 0.75 and on_disk["en"]["mae"] == 0.25 and on_disk["en"]["within_one"] == 1.0
    assert set(on_disk["mean"]) == {"accuracy", "macro_f1", "mae", "median_mae", "within_one"}
    evaluate_languages(lambda lang: nlp, ["en"], tmp_path, "test", tmp_path / "metrics.json",
                       predictions_dir=tmp_path / "predictions")
    test_path = tmp_path / "en" / "test.spacy"
    kept = read_predictions(tmp_path / "predictions" / "en.json", test_path, "teacher-train")
    assert kept == json.loads(json.dumps([dict(doc.cats) for doc in nlp.pipe(["bad book", "okay book", "good book",
                                                                              "good book"])]))
    another = nlp.make_doc("another book")
    another.cats = {label: float(label == "NEU") for label in THREE_WAY.labels}
    docbin.add(another)
    docbin.to_disk(test_path)
    with pytest.raises(MissingInput, match="another version of .*test.spacy: run `spacy project run teacher-train`"):
        read_predictions(tmp_path / "predictions" / "en.json", test_path, "teacher-train")
    with pytest.raises(MissingInput, match="Missing .*de.json: run `spacy project run teacher-train` first"):
        read_predictions(tmp_path / "predictions" / "de.json", test_path, "teacher-train")
    write_task(tmp_path / "task.json", STARS)
    with pytest.raises(DataError, match="the model has no score for 1, 2, 3, 4, 5 of the task stars"):
        evaluate_languages(lambda lang: nlp, ["en"], tmp_path, "test", tmp_path / "metrics.json")


def test_the_median_label_minimises_the_expected_error_in_steps():
    from review_distill.scores import median_label

    # Most probable 1 star, but more than half the mass at 3 stars or above: the median is 3.
    probabilities = dict(zip(STARS.labels, [0.4, 0.05, 0.1, 0.2, 0.25]))
    assert top_label(probabilities, STARS.labels) == "1" and median_label(probabilities, STARS.scale) == "3"
    scores = classification_scores(["3"], ["1"], [probabilities], STARS)
    assert scores["mae"] == 2 and scores["median_mae"] == 0
    assert classification_scores(["3"], ["1"], task=STARS)["median_mae"] == 2  # no probabilities: the label
