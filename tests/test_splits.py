import json
import shutil
import subprocess
import sys

import pytest
from spacy.tokens import DocBin

from util import ROOT, make_reviews, write_lines
from review_distill.splits import split_reviews, split_unlabeled
from review_distill.errors import DataError
from review_distill.records import SOURCE_FILE, write_sources
from review_distill.reviews import make_nlp, normalize_text
from review_distill.tasks import make_task, write_task

BINARY = make_task("binary")


def make_splits(with_validation=False):
    splits = {"train": make_reviews(60, "tr"), "test": make_reviews(20, "te")}
    if with_validation:
        splits["validation"] = make_reviews(15, "va")
    return splits


def write_data_step_files(reviews_dir, *languages):
    """The task and the sources, as the data step writes them beside the reviews."""
    write_task(reviews_dir / "task.json", BINARY)
    write_sources(reviews_dir / SOURCE_FILE, {lang: {"source": "local", "labelled": 1, "unlabelled": 0}
                                              for lang in languages})


def split(splits, **sizes):
    sizes = {"n_train": 20, "n_dev": 20, "n_test": 20, **sizes}
    return split_reviews(splits, lang="en", seed=0, task=BINARY, **sizes)


def texts(reviews):
    return {normalize_text(review["text"]) for review in reviews}


def test_sizes_and_balance():
    sets, stats = split(make_splits())
    for name in ("train", "dev", "test"):
        labels = [review["label"] for review in sets[name]]
        assert len(labels) == 20 and labels.count("POS") == labels.count("NEG") == 10
    assert len(sets["pool"]) == 120 - 40
    assert stats["sizes"] == {"test": 20, "dev": 20, "train": 20, "pool": 80}


def test_test_from_test_split_and_dev_carved_from_train():
    sets, stats = split(make_splits())
    assert all(review["id"].startswith("te") for review in sets["test"])
    assert all(review["id"].startswith("tr") for review in sets["dev"] + sets["train"] + sets["pool"])
    assert stats["dev_from"] == "train" and stats["test_from"] == "test"


def test_dev_from_validation_split_when_present():
    sets, stats = split(make_splits(with_validation=True))
    assert all(review["id"].startswith("va") for review in sets["dev"])
    assert stats["dev_from"] == "validation"
    assert len(sets["pool"]) == 120 - 20


def test_pool_drops_labels_and_keeps_every_remaining_train_review():
    splits = make_splits()
    sets, _ = split(splits)
    assert all(set(review) == {"id", "text"} for review in sets["pool"])
    used = {review["id"] for name in ("train", "dev", "pool") for review in sets[name]}
    assert used == {review["id"] for review in splits["train"]}


def test_duplicates_of_held_out_texts_never_reach_train_or_pool():
    splits = make_splits()
    # Train repeats every test text (with other case and spacing) and one of its own.
    splits["train"] += [dict(review, id=f"copy{i}", text=review["text"].upper() + "  ") for i, review in
                        enumerate(splits["test"])]
    splits["train"].append(dict(splits["train"][0], id="self-copy"))
    sets, stats = split(splits, n_test=40)
    held_out = texts(sets["test"]) | texts(sets["dev"])
    assert not held_out & (texts(sets["train"]) | texts(sets["pool"]))
    assert stats["duplicates_removed"] == {"test": 0, "train": 41}
    all_texts = [normalize_text(r["text"]) for name in ("train", "dev", "test", "pool") for r in sets[name]]
    assert len(all_texts) == len(set(all_texts))


def test_deterministic_for_a_seed_and_different_for_another():
    first, _ = split(make_splits())
    again, _ = split(make_splits())
    other, _ = split_reviews(make_splits(), lang="en", seed=1, n_train=20, n_dev=20, n_test=20, task=BINARY)
    assert first == again
    assert [r["id"] for r in first["train"]] != [r["id"] for r in other["train"]]


def test_too_few_reviews_says_how_many():
    with pytest.raises(DataError, match=r"balanced en test set .* of 50: there are 20 POS reviews, 25 are needed"):
        split(make_splits(), n_test=50)
    with pytest.raises(DataError, match=r"balanced en train set .* 50 POS reviews, 60 are needed"):
        split(make_splits(), n_train=120)


def test_an_odd_size_gives_the_first_label_one_more():
    sets, _ = split(make_splits(), n_dev=21)
    labels = [review["label"] for review in sets["dev"]]
    assert (labels.count("POS"), labels.count("NEG")) == (11, 10)


def run_script(name, *args, cwd):
    """Run a script; return its exit code and its output with line wrapping undone."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args], cwd=cwd, capture_output=True,
                            text=True)
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def test_preprocess_cli_writes_docbins_pool_and_stats(tmp_path):
    write_data_step_files(tmp_path / "reviews", "ja")
    for split_name, n in (("train", 60), ("test", 20)):
        write_lines(tmp_path / "reviews" / "ja" / f"{split_name}.jsonl",
                    [{"id": f"{split_name}{i}", "text": f"{'良い' if i % 2 else 'ひどい'}商品{split_name}{i}です。",
                      "label": "POS" if i % 2 else "NEG"} for i in range(2 * n)])
    code, output = run_script("preprocess.py", "ja", "--input-dir", "reviews", "--output-dir", "corpus",
                              "--n-train", "20", "--n-dev", "20", "--n-test", "20", cwd=tmp_path)
    assert code == 0, output
    out = tmp_path / "corpus" / "ja"
    nlp = make_nlp("ja")
    docs = list(DocBin().from_disk(out / "train.spacy").get_docs(nlp.vocab))
    assert len(docs) == 20 and sum(doc.cats["POS"] for doc in docs) == 10
    assert all(doc.cats["POS"] + doc.cats["NEG"] == 1.0 and doc.user_data["id"] for doc in docs)
    assert [token.text for token in docs[0]][-2:] == ["です", "。"]
    assert len((out / "pool.jsonl").read_text(encoding="utf8").splitlines()) == 80
    assert json.loads((out / "stats.json").read_text())["sizes"]["pool"] == 80
    assert json.loads((tmp_path / "corpus" / "task.json").read_text())["labels"] == ["POS", "NEG"]
    assert json.loads((tmp_path / "corpus" / SOURCE_FILE).read_text()) == {
        "ja": {"source": "local", "labelled": 1, "unlabelled": 0}}


def test_preprocess_cli_error_writes_nothing(tmp_path):
    write_data_step_files(tmp_path / "reviews", "en")
    write_lines(tmp_path / "reviews" / "en" / "train.jsonl", make_reviews(5, "tr"))
    code, output = run_script("preprocess.py", "en", "--input-dir", "reviews", "--output-dir", "corpus", cwd=tmp_path)
    assert code == 1
    assert "there are 5 POS reviews" in output and "500 are needed" in output
    assert not (tmp_path / "corpus").exists()


def test_get_reviews_cli_reports_bad_row_and_writes_nothing(tmp_path):
    data = tmp_path / "data"
    write_lines(data / "en" / "train.jsonl", ['{"text": "fine", "label": 3}', '{"text": "x", "label": 9}'])
    code, output = run_script("data.py", "en", "--data-dir", str(data), "--output-dir", "out", cwd=tmp_path)
    assert code == 1
    assert "train.jsonl:2: label must be an integer 0-4" in output
    assert not (tmp_path / "out").exists()


def test_get_reviews_cli_reads_a_users_csv_and_records_its_name_only(tmp_path):
    (tmp_path / "mine.csv").write_text("review,positive\nSuper,1\nMies,0\n", encoding="utf8")
    code, output = run_script("data.py", "nl", "--source", "file", "--data-file", str(tmp_path / "mine.csv"),
                              "--text-field", "review", "--label-field", "positive", "--label-scheme", "labels",
                              cwd=tmp_path)
    assert code == 0, output
    rows = [json.loads(line) for line in (tmp_path / "assets/reviews/nl/train.jsonl").read_text().splitlines()]
    assert [(row["text"], row["label"]) for row in rows] == [("Super", "POS"), ("Mies", "NEG")]
    record = (tmp_path / "assets/reviews" / SOURCE_FILE).read_text()
    assert json.loads(record) == {"nl": {"source": "file", "file": "mine.csv", "labelled": 2, "unlabelled": 0}}
    assert str(tmp_path) not in record


@pytest.mark.parametrize(
    "args,error",
    [(["zz"], "Unknown language code 'zz'"),
     (["en", "--source", "local", "--data-dir", "missing"], "Missing file missing/en/train.jsonl"),
     (["en", "de", "--source", "file", "--data-file", "x.csv"], "reads one file in one language"),
     (["en", "--source", "ftp"], "Unknown data_source 'ftp'"),
     (["nl", "--source", "file"], "data_source=file needs the path")],
)
def test_get_reviews_cli_errors(tmp_path, args, error):
    code, output = run_script("data.py", *args, cwd=tmp_path)
    assert code == 1 and error in output


HOSTILE_FILES = [
    ("bad.jsonl", b'{"text": "fine", "label": 3}\n{"text": "bad caf\xff", "label": 0}\n',
     "bad.jsonl:2: not valid UTF-8 (byte 0xff at column 18)"),
    ("bad.csv", b"text,label\nfine,3\nnot caf\xe9,0\n", "bad.csv:3: not valid UTF-8 (byte 0xe9 at column 8)"),
    ("half.jsonl", b'{"text": "fine", "label": 3}\n{"text": "a cut emoji \\ud83d", "label": 0}\n',
     "half.jsonl:2: the text field holds a lone surrogate ('\\ud83d' at column 13)"),
]


@pytest.mark.parametrize("name,content,error", HOSTILE_FILES, ids=[name for name, _, _ in HOSTILE_FILES])
def test_project_run_data_names_the_bad_line_of_a_users_file(tmp_path, name, content, error):
    """`spacy project run data` with a user's file that is not valid UTF-8, or whose JSON holds
    half an emoji: the file, line and column, no traceback, nothing written."""
    shutil.copy(ROOT / "project.yml", tmp_path)
    for folder in ("scripts", "review_distill"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / name).write_bytes(content)
    result = subprocess.run(
        [sys.executable, "-m", "spacy", "project", "run", "data", str(tmp_path), "--vars.languages", "en",
         "--vars.data_source", "file", "--vars.data_file", name],
        cwd=tmp_path, capture_output=True, text=True,
    )
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode == 1 and error in output and "Traceback" not in output
    assert not (tmp_path / "assets" / "reviews").exists()


def test_an_unlabeled_language_gets_the_same_test_set_and_every_other_review_in_its_pool():
    for splits in (make_splits(), make_splits(with_validation=True), {"train": make_reviews(60, "tr")}):
        labelled, _ = split(splits)
        sets, stats = split_unlabeled(splits, lang="en", seed=0, n_train=20, n_dev=20, n_test=20, task=BINARY)
        assert sets["test"] == labelled["test"]
        pool = [review for name in ("pool_dev", "pool_train", "pool") for review in sets[name]]
        assert all(set(review) == {"id", "text"} for review in pool)
        assert sorted(review["id"] for review in pool + sets["test"]) == sorted(
            review["id"] for reviews in splits.values() for review in reviews if review not in splits.get("test", [])
            or review in sets["test"])
        assert (len(sets["pool_dev"]), len(sets["pool_train"])) == (20, 20)
        assert stats["unlabeled"] and stats["gold_labels"] == "test only"


def test_an_unlabeled_language_without_labels_has_no_test_set_and_too_few_reviews_say_how_many():
    text_only = {"train": [{"id": f"x{i}", "text": f"tekst {i}"} for i in range(50)]}
    sets, stats = split_unlabeled(text_only, lang="nl", seed=0, n_train=20, n_dev=20, n_test=20, task=BINARY)
    assert set(sets) == {"pool_dev", "pool_train", "pool"} and stats["gold_labels"] == "none"
    assert stats["sizes"] == {"pool_dev": 20, "pool_train": 20, "pool": 10} and stats["test_from"] is None
    with pytest.raises(DataError, match=r"pool of nl, an unlabeled language: there are 50 reviews outside its test "
                                        r"set \(after deduplication\), 60 are needed"):
        split_unlabeled(text_only, lang="nl", seed=0, n_train=40, n_dev=20, n_test=20, task=BINARY)


def test_preprocess_cli_splits_an_unlabeled_language_and_removes_its_gold_sets_of_an_earlier_run(tmp_path):
    write_data_step_files(tmp_path / "reviews", "en", "nl")
    write_lines(tmp_path / "reviews" / "en" / "train.jsonl", make_reviews(40, "tr"))
    write_lines(tmp_path / "reviews" / "nl" / "train.jsonl", [{"id": f"n{i}", "text": f"tekst {i}"} for i in range(50)])
    args = ["--input-dir", "reviews", "--output-dir", "corpus", "--n-train", "10", "--n-dev", "10", "--n-test", "10"]
    assert run_script("preprocess.py", "en", "nl", *args, cwd=tmp_path)[0] == 1  # nl has no labels
    (tmp_path / "corpus" / "nl").mkdir(parents=True)
    (tmp_path / "corpus" / "nl" / "train.spacy").write_text("of an earlier run")
    code, output = run_script("preprocess.py", "en", "nl", *args, "--unlabeled", "nl", cwd=tmp_path)
    assert code == 0, output
    assert "nl (unlabeled: no gold train or dev): no test set (no labels), pool 50 (of which dev 10 and train 10" in output
    assert sorted(path.name for path in (tmp_path / "corpus" / "nl").iterdir()) == [
        "pool.jsonl", "pool_dev.jsonl", "pool_train.jsonl", "stats.json"]
    assert (tmp_path / "corpus" / "en" / "train.spacy").is_file()
    code, output = run_script("preprocess.py", "en", "nl", *args, "--unlabeled", "en nl", cwd=tmp_path)
    assert code == 1 and "Every language is unlabeled (en nl)" in output


def test_get_reviews_cli_reads_marc_and_a_text_only_file_for_an_unlabeled_language(tmp_path):
    for lang in ("en", "ja"):
        for split_name in ("train", "test"):
            write_lines(tmp_path / "marc" / lang / f"{split_name}.jsonl", [{"text": f"{lang} {split_name}", "label": 4}])
    write_lines(tmp_path / "nl.jsonl", [{"body": "Prima"}, {"body": "Kapot"}])
    code, output = run_script("data.py", "en", "ja", "nl", "--data-dir", "marc", "--source", "local nl=file",
                              "--data-file", "nl.jsonl", "--text-field", "body", "--unlabeled", "ja nl", cwd=tmp_path)
    assert code == 0, output
    assert "ja is unlabeled: its labels are used for its test set only, never for training" in output
    assert "nl is unlabeled: its reviews have no labels, so it has no test set" in output
    rows = [json.loads(line) for line in (tmp_path / "assets/reviews/nl/train.jsonl").read_text().splitlines()]
    assert rows == [{"id": "nl_1", "text": "Prima"}, {"id": "nl_2", "text": "Kapot"}]
    assert json.loads((tmp_path / "assets/reviews" / SOURCE_FILE).read_text()) == {
        "en": {"source": "local", "labelled": 2, "unlabelled": 0}, "ja": {"source": "local", "labelled": 2, "unlabelled": 0},
        "nl": {"source": "file", "file": "nl.jsonl", "labelled": 0, "unlabelled": 2}}
    ja = json.loads((tmp_path / "assets/reviews/ja/test.jsonl").read_text(encoding="utf8").splitlines()[0])
    assert set(ja) == {"id", "text", "label"}  # MARC in the mirror's layout, whatever the file's columns
    code, output = run_script("data.py", "en", "ja", "nl", "--data-dir", "marc", "--source", "local nl=file",
                              "--data-file", "nl.jsonl", "--text-field", "body", "--unlabeled", "ja", cwd=tmp_path)
    assert code == 1 and "nl.jsonl: no review has a label in field 'label'; a file without labels is for a language" in output


@pytest.mark.parametrize(
    "args,error",
    [(["en", "nl", "--source", "local file"], "data_source 'local file' has two defaults, local and file"),
     (["en", "nl", "--source", "nl=file"], "data_source 'nl=file' gives no source for en"),
     (["en", "--source", "local nl=file"], "data_source names nl, which languages does not"),
     (["en", "nl", "--source", "local nl=ftp"], "Unknown data_source 'ftp'"),
     (["en", "nl", "--source", "file"], "data_source=file reads one file in one language, but en nl read from a file"),
     (["en", "nl", "--source", "local nl=file", "--data-file", "en=a.csv"], "data_file names en, which data_source does"),
     (["en", "nl", "--unlabeled", "en nl"], "Every language is unlabeled (en nl)"),
     (["en", "--unlabeled", "nl"], "unlabeled_languages names nl, which languages does not")],
)
def test_get_reviews_cli_per_language_sources_and_unlabeled_errors(tmp_path, args, error):
    code, output = run_script("data.py", *args, cwd=tmp_path)
    assert code == 1 and error in output, output


def reviews_of(counts, prefix):
    """Distinct reviews with the given number of each label."""
    return [{"id": f"{prefix}{label}{i}", "text": f"{label} review {prefix}{i}", "label": label}
            for label, n in counts.items() for i in range(n)]


def label_counts(reviews):
    return {label: sum(review["label"] == label for review in reviews) for label in {r["label"] for r in reviews}}


def test_three_way_splits_are_balanced_with_the_remainder_to_the_first_labels():
    task = make_task("three_way")
    splits = {"train": reviews_of({"NEG": 40, "NEU": 40, "POS": 40}, "tr"), "test": reviews_of({"NEG": 9, "NEU": 9, "POS": 9}, "te")}
    sets, _ = split_reviews(splits, lang="en", seed=0, n_train=20, n_dev=30, n_test=25, task=task)
    assert label_counts(sets["train"]) == {"NEG": 7, "NEU": 7, "POS": 6}
    assert label_counts(sets["dev"]) == {"NEG": 10, "NEU": 10, "POS": 10}
    with pytest.raises(DataError, match=r"balanced en test set \(from test\) of 30: there are 9 NEG reviews, 10 are "
                                        r"needed; there are 9 NEU reviews, 10 are needed; there are 9 POS"):
        split_reviews(splits, lang="en", seed=0, n_train=20, n_dev=30, n_test=30, task=task)


def test_categories_with_unequal_counts_fill_each_split_and_keep_a_share_for_the_later_ones():
    task = make_task("categories", ["price", "quality", "shipping"])
    splits = {"train": reviews_of({"price": 30, "quality": 200, "shipping": 100}, "tr")}
    sets, stats = split_reviews(splits, lang="en", seed=0, n_train=60, n_dev=30, n_test=30, task=task)
    # price has 30 reviews for 120 places: a quarter each to test and dev (its share of what is left), the rest to train.
    assert label_counts(sets["test"]) == {"price": 7, "quality": 12, "shipping": 11}
    assert label_counts(sets["dev"]) == {"price": 7, "quality": 12, "shipping": 11}
    assert label_counts(sets["train"]) == {"price": 16, "quality": 22, "shipping": 22}
    assert stats["sizes"]["pool"] == 330 - 120


def test_categories_too_rare_for_the_splits_are_each_named_with_their_counts():
    task = make_task("categories", ["price", "quality", "shipping", "size"])
    splits = {"train": reviews_of({"price": 3, "quality": 200, "shipping": 100, "size": 2}, "tr")}
    with pytest.raises(DataError, match=r"Too few reviews of price, size for the en test set \(from train\) of 40: "
                                        r"price has 3 \(it would get 0, 1 at least\); size has 2 \(it would get 0"):
        split_reviews(splits, lang="en", seed=0, n_train=120, n_dev=40, n_test=40, task=task)


def test_unlabelled_reviews_of_a_labelled_language_go_to_its_pool():
    splits = make_splits()
    splits["train"] += [{"id": f"u{i}", "text": f"unlabelled review {i}"} for i in range(7)]
    sets, stats = split(splits)
    assert {f"u{i}" for i in range(7)} <= {review["id"] for review in sets["pool"]}
    assert stats["sizes"]["pool"] == 87 and stats["unlabelled_reviews"] == 7
    assert "unlabelled_reviews" not in split(make_splits())[1]


def test_data_and_preprocess_clis_read_a_users_categories_with_unlabelled_rows(tmp_path):
    rows = ["text,topic"] + [f"late parcel {i},shipping" for i in range(30)] + [f"too dear {i},price" for i in range(12)] \
        + [f"broke quickly {i},quality" for i in range(20)] + [f"no label yet {i}," for i in range(5)]
    (tmp_path / "mine.csv").write_text("\n".join(rows) + "\n", encoding="utf8")
    code, output = run_script("data.py", "en", "--source", "file", "--data-file", "mine.csv", "--label-field", "topic",
                              "--label-scheme", "labels", "--task", "categories", cwd=tmp_path)
    assert code == 0, output
    assert "en train: 67 reviews (62 labelled, 5 unlabelled)" in output
    task = json.loads((tmp_path / "assets/reviews/task.json").read_text())
    assert task == {"task": "categories", "labels": ["price", "quality", "shipping"], "scale": []}
    code, output = run_script("preprocess.py", "en", "--input-dir", "assets/reviews", "--output-dir", "corpus",
                              "--n-train", "15", "--n-dev", "9", "--n-test", "9", cwd=tmp_path)
    assert code == 0, output
    docs = list(DocBin().from_disk(tmp_path / "corpus/en/train.spacy").get_docs(make_nlp("en").vocab))
    assert all(list(doc.cats) == ["price", "quality", "shipping"] and sum(doc.cats.values()) == 1.0 for doc in docs)
    assert "(of which 5 unlabelled reviews)" in output
    assert json.loads((tmp_path / "corpus/task.json").read_text()) == task
    assert json.loads((tmp_path / "corpus" / SOURCE_FILE).read_text()) == {
        "en": {"source": "file", "file": "mine.csv", "labelled": 62, "unlabelled": 5}}


def test_data_cli_rejects_a_single_label_and_a_test_label_no_labelled_language_has(tmp_path):
    (tmp_path / "one.csv").write_text("text,label\na,x\nb,x\n", encoding="utf8")
    code, output = run_script("data.py", "en", "--source", "file", "--data-file", "one.csv", "--label-scheme",
                              "labels", "--task", "categories", cwd=tmp_path)
    assert code == 1 and "needs two labels at least; the labelled reviews have only 'x'" in output
    (tmp_path / "en.csv").write_text("text,label\na,x\nb,y\n", encoding="utf8")
    (tmp_path / "nl.csv").write_text("text,label\na,x\nb,z\n", encoding="utf8")
    code, output = run_script("data.py", "en", "nl", "--source", "file", "--data-file", "en=en.csv nl=nl.csv",
                              "--label-scheme", "labels", "--task", "categories", "--unlabeled", "nl", cwd=tmp_path)
    assert code == 1 and "nl (unlabeled) has test labels 'z' that no labelled language has" in output
    assert not (tmp_path / "assets").exists()
