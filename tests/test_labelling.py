"""Soft labelling (scripts/label.py): the teacher's probabilities and logits, provenance, samples,
shards, resuming after a crash, starting over on changed inputs, and the command's errors.

The teacher is a tiny blank pipeline with a stock textcat (any exclusive textcat over the task's
labels serves), plus runs of the project's own teacher config on a tiny random BERT: on the binary
task's labels and on the stars task's five."""
import json
import math
import random

import pytest
import spacy
from spacy.tokens import DocBin

from review_distill import labelling, teacher_inference
from review_distill.errors import DataError
from review_distill.label_texts import SOURCES, collect_items
from review_distill.shards import hard_doc
from review_distill.reviews import make_nlp
from review_distill.tasks import make_task, write_task
from review_distill.teacher_inference import load_teacher, resolve_precision, soft_labels
from review_distill.textcat_distill import MIN_PROB
from util import ROOT, TEXTS, read, run, save_tiny_transformer_teacher, words, write_inputs, write_lines

BINARY = make_task("binary")
LABELS = BINARY.labels


def summary(docs):
    return [(doc.text, [t.text for t in doc], doc.cats, doc.user_data) for doc in docs]


@pytest.fixture
def count_predictions(monkeypatch):
    """The texts the teacher labels, per call of labelling.predict; raise on call `fail_on` if set."""
    calls, original = [], labelling.predict
    state = {"fail_on": None}

    def counting(teacher, texts, *args, **kwargs):
        calls.append(list(texts))
        if len(calls) == state["fail_on"]:
            raise RuntimeError("killed")
        return original(teacher, texts, *args, **kwargs)

    monkeypatch.setattr(labelling, "predict", counting)
    return calls, state


def test_soft_labels_sum_to_one_exactly_and_keep_the_logits():
    rng = random.Random(0)
    for _ in range(10_000):
        pos = rng.random() ** rng.choice([1, 5, 30])
        cats, logits = soft_labels({"POS": pos, "NEG": 1 - pos}, LABELS)
        assert cats["POS"] + cats["NEG"] == 1.0 and 0 <= cats["NEG"] <= 1
    cats, logits = soft_labels({"POS": 1.0, "NEG": 1e-20}, LABELS)  # the tail p rounds away, the logits keep
    assert cats == {"POS": 1.0, "NEG": 0.0} and logits == {"POS": 0.0, "NEG": pytest.approx(math.log(1e-20))}
    assert soft_labels({"POS": 1.0, "NEG": 0.0}, LABELS)[1]["NEG"] == pytest.approx(math.log(MIN_PROB))
    with pytest.raises(ValueError, match="not probabilities"):
        soft_labels({"POS": float("nan"), "NEG": 0.5}, LABELS)


def test_docs_carry_the_teachers_probabilities_logits_and_provenance(tmp_path, teacher_dir):
    write_inputs(tmp_path, ("en", "ja"))
    output = run(tmp_path, teacher_dir, "en", "ja")
    teacher = spacy.load(teacher_dir)
    for lang in ("en", "ja"):
        assert f"{lang}: 22 texts (gold 6, augmented 7, pool 9)" in output
        soft, hard = read(tmp_path / "soft" / lang / "train.spacy", lang), read(tmp_path / "hard" / lang / "train.spacy", lang)
        assert [doc.user_data["source"] for doc in soft] == ["gold"] * 6 + ["augmented"] * 7 + ["pool"] * 9
        assert [doc.text for doc in soft[:6]] == TEXTS[lang]
        augmented = {row["id"]: row for row in map(json.loads, (tmp_path / "augmented" / f"{lang}.jsonl").open())}
        for i, doc in enumerate(soft):
            own = teacher(doc.text).cats
            assert all(isinstance(doc.cats[label_], float) for label_ in LABELS)
            assert 0 <= doc.cats["POS"] <= 1 and doc.cats["POS"] + doc.cats["NEG"] == 1.0
            assert doc.cats["POS"] == pytest.approx(own["POS"], rel=1e-6)
            logits = doc.user_data["teacher_logits"]
            assert logits["POS"] == pytest.approx(math.log(own["POS"]), rel=1e-6)
            assert math.exp(logits["POS"]) / sum(map(math.exp, logits.values())) == pytest.approx(doc.cats["POS"])
            assert [t.text for t in doc] == [t.text for t in make_nlp(lang).make_doc(doc.text)]
            source = doc.user_data["source"]
            assert ("gold_label" in doc.user_data) == (source == "gold")
            if source == "gold":
                assert doc.user_data["gold_label"] == LABELS[i % 2] and doc.user_data["id"] == f"{lang}-t{i}"
            if source == "augmented":
                row = augmented[doc.user_data["id"]]
                assert (doc.text, doc.user_data["source_id"], list(doc.user_data["ops"])) == (row["text"], row["source_id"], row["ops"])
            assert hard[i].text == doc.text and "gold_label" not in hard[i].user_data
            best = max(LABELS, key=doc.cats.get)
            assert hard[i].cats == {label_: float(label_ == best) for label_ in LABELS}
            assert hard[i].user_data == {k: v for k, v in doc.user_data.items() if k != "gold_label"}
        shards = sorted((tmp_path / "labels" / lang).glob("shard-*.spacy"))
        assert [path.name for path in shards] == [f"shard-{k:05d}.spacy" for k in range(6)]
        assert [len(DocBin().from_disk(path)) for path in shards] == [4, 4, 4, 4, 4, 2]
        manifest = json.loads((tmp_path / "labels" / lang / "manifest.json").read_text())
        assert manifest["n_texts"] == 22 and manifest["shard_size"] == 4
    assert not list(tmp_path.rglob(".*.tmp"))


def test_samples_are_seeded_nested_and_sized(tmp_path, capsys):
    write_inputs(tmp_path, n_pool=30, n_aug=20)
    vocab, splits, augmented = spacy.blank("en").vocab, tmp_path / "splits", tmp_path / "augmented"

    def ids(pool_size, augmented_size, seed=0):
        items = collect_items("en", vocab, splits, augmented, pool_size, augmented_size, seed, labels=LABELS)
        return {source: [item["id"] for item in items if item["source"] == source] for source in SOURCES}

    assert ids(10, 5) == ids(10, 5)
    assert ids(10, 5, seed=1) != ids(10, 5)
    assert [len(ids(10, 5)[source]) for source in SOURCES] == [6, 5, 10, 0]
    assert ids(0, 0) == {"gold": [f"en-t{i}" for i in range(6)], "augmented": [], "pool": [], "transfer": []}
    everything = ids(-1, -1)
    assert sorted(everything["pool"]) == sorted(f"en-p{i}" for i in range(30)) and len(everything["augmented"]) == 20
    assert everything["pool"][:10] == ids(10, 5)["pool"] and everything["augmented"][:5] == ids(10, 5)["augmented"]
    assert ids(50, 5)["pool"] == everything["pool"]  # more than there are: all of them
    capsys.readouterr()
    ids(10, -1)
    said = " ".join(capsys.readouterr().out.split())
    assert "en pool reviews: 10 of 30, a seeded sample: set pool_size to label more (-1: all)" in said
    assert "en synthetic texts: all 20 (augmented_size -1)" in said


def test_a_killed_run_resumes_after_its_last_finished_shard_and_ends_as_an_uninterrupted_one(
    tmp_path, teacher_dir, count_predictions
):
    calls, state = count_predictions
    write_inputs(tmp_path / "once")
    run(tmp_path / "once", teacher_dir)
    assert [len(texts) for texts in calls] == [4, 4, 4, 4, 4, 2]
    write_inputs(tmp_path / "twice")
    calls.clear()
    state["fail_on"] = 3  # killed while labelling the third shard
    with pytest.raises(RuntimeError, match="killed"):
        run(tmp_path / "twice", teacher_dir)
    labels = tmp_path / "twice" / "labels" / "en"
    assert sorted(path.name for path in labels.iterdir()) == ["manifest.json", "shard-00000.spacy", "shard-00001.spacy"]
    assert not (tmp_path / "twice" / "soft").exists() and not (tmp_path / "twice" / "hard").exists()
    calls.clear()
    state["fail_on"] = None
    output = run(tmp_path / "twice", teacher_dir)
    assert "2 of 6 shards already labelled" in output
    assert [len(texts) for texts in calls] == [4, 4, 4, 2]  # shards 2-5 only
    for kind in ("soft", "hard"):
        assert summary(read(tmp_path / "twice" / kind / "en" / "train.spacy")) == summary(
            read(tmp_path / "once" / kind / "en" / "train.spacy"))
    # A lost last shard and lost outputs: only that shard is labelled again.
    (labels / "shard-00005.spacy").unlink()
    (tmp_path / "twice" / "soft" / "en" / "train.spacy").unlink()
    calls.clear()
    run(tmp_path / "twice", teacher_dir)
    assert [len(texts) for texts in calls] == [2]
    assert summary(read(tmp_path / "twice" / "soft" / "en" / "train.spacy")) == summary(
        read(tmp_path / "once" / "soft" / "en" / "train.spacy"))


@pytest.mark.parametrize("change, what", [
    ({"seed": 1}, "texts to label"),
    ({"pool_size": 5}, "texts to label"),
    ({"shard_size": 5}, "shard size"),
    ("teacher", "teacher"),
])
def test_a_rerun_with_other_inputs_starts_over(tmp_path, teacher_dir, count_predictions, change, what):
    calls, _ = count_predictions
    write_inputs(tmp_path)
    teacher = tmp_path / "teacher"
    spacy.load(teacher_dir).to_disk(teacher)
    run(tmp_path, teacher)
    calls.clear()
    output = run(tmp_path, teacher)  # nothing changed: nothing labelled
    assert calls == [] and "6 of 6 shards already labelled" in output
    options = {}
    if change == "teacher":
        meta = json.loads((teacher / "meta.json").read_text())
        (teacher / "meta.json").write_text(json.dumps({**meta, "version": "0.0.1"}))
    else:
        options = change
    output = run(tmp_path, teacher, **options)
    assert f"the {what} changed" in output and "from the start" in output
    n_texts = json.loads((tmp_path / "labels" / "en" / "manifest.json").read_text())["n_texts"]
    assert sum(map(len, calls)) == n_texts == len(read(tmp_path / "soft" / "en" / "train.spacy"))
    shard_size = options.get("shard_size", 4)
    assert len(list((tmp_path / "labels" / "en").glob("shard-*"))) == math.ceil(n_texts / shard_size)


def test_the_project_teacher_config_labels_through_its_code(tmp_path, tiny_transformer):
    """configs/teacher.cfg on a tiny random BERT, loaded with --code review_distill/teacher_functions.py."""
    save_tiny_transformer_teacher(tmp_path / "teacher", tiny_transformer)
    write_inputs(tmp_path)
    run(tmp_path, tmp_path / "teacher", code=ROOT / "review_distill" / "teacher_functions.py")
    teacher = spacy.load(tmp_path / "teacher")
    docs = read(tmp_path / "soft" / "en" / "train.spacy")
    assert len(docs) == 22 and len({doc.cats["POS"] for doc in docs}) > 1
    for doc in docs:
        assert doc.cats["POS"] == pytest.approx(teacher(doc.text).cats["POS"], rel=1e-5)


@pytest.mark.parametrize("setup, options, message", [
    ("no teacher", {}, "run `spacy project run teacher-train` first"),
    ("no augmented", {}, "augmented/en.jsonl: run `spacy project run augment` first"),
    ("no train", {}, "train.spacy: run `spacy project run preprocess` first"),
    ("empty pool", {}, "pool.jsonl: no pool reviews"),
    ("empty text", {}, "record 2 (x2) has an empty text"),
    ("no textcat", {}, "has no exclusive textcat predicting POS and NEG"),
    ("no task", {}, "task.json: run `spacy project run preprocess` first"),
    ("gold of another task", {}, "review en-t0 has no one-hot cats over the task's labels NEG/NEU/POS"),
    ("teacher of another task", {}, "the teacher predicts the labels POS, NEG, but the task stars has the labels "
                                    "1, 2, 3, 4, 5: retrain the teacher on this task (`spacy project run teacher-train`)"),
    (None, {"pool_size": -2}, "pool_size must be -1 (all), 0 (none) or a positive number"),
    (None, {"shard_size": 0}, "shard_size must be at least 1"),
])
def test_errors_are_clear_and_write_nothing(tmp_path, teacher_dir, setup, options, message):
    write_inputs(tmp_path)
    teacher = teacher_dir
    if setup == "no teacher":
        teacher = tmp_path / "training" / "teacher" / "model-best"
    elif setup == "no augmented":
        (tmp_path / "augmented" / "en.jsonl").unlink()
    elif setup == "no train":
        (tmp_path / "splits" / "en" / "train.spacy").unlink()
    elif setup == "empty pool":
        (tmp_path / "splits" / "en" / "pool.jsonl").write_text("")
    elif setup == "empty text":
        write_lines(tmp_path / "splits" / "en" / "pool.jsonl", [{"id": "x1", "text": "ok"}, {"id": "x2", "text": " "}])
    elif setup == "no textcat":
        teacher = tmp_path / "blank"
        spacy.blank("xx").to_disk(teacher)
    elif setup == "no task":
        (tmp_path / "splits" / "task.json").unlink()
    elif setup == "gold of another task":
        write_task(tmp_path / "splits" / "task.json", make_task("three_way"))
    elif setup == "teacher of another task":
        write_inputs(tmp_path, task=make_task("stars"))
    output = run(tmp_path, teacher, expect=1, **options)
    assert message in output
    assert not any((tmp_path / folder).exists() for folder in ("labels", "soft", "hard"))


def test_no_augmented_texts_need_no_augment_step(tmp_path, teacher_dir):
    write_inputs(tmp_path)
    (tmp_path / "augmented" / "en.jsonl").unlink()
    assert "en: 15 texts (gold 6, augmented 0, pool 9)" in run(tmp_path, teacher_dir, augmented_size=0)


def test_auto_sizes_are_the_tasks_defaults(tmp_path, teacher_dir):
    """Two labels: 5,000 pool reviews (here all 13) and no synthetic texts, as the hour-long default run."""
    write_inputs(tmp_path)
    output = run(tmp_path, teacher_dir, pool_size="auto", augmented_size="auto")
    assert "The task binary, 2 labels: pool_size 5000, augmented_size 0" in output
    assert "en: 19 texts (gold 6, augmented 0, pool 13)" in output


def test_a_size_that_is_no_number_is_named(tmp_path, teacher_dir):
    write_inputs(tmp_path)
    assert "pool_size must be auto or a whole number, got 'lots'" in run(tmp_path, teacher_dir, expect=1, pool_size="lots")
    assert not (tmp_path / "labels").exists()


def test_bf16_labels_agree_with_fp32_and_are_checked_and_reported(tmp_path, tiny_transformer, monkeypatch):
    """Under bf16 autocast (emulated where the CPU has no bf16) the transformer teacher's labels stay
    within bf16's precision of fp32; the agreement check and the speed go to the report."""
    save_tiny_transformer_teacher(tmp_path / "teacher", tiny_transformer)
    write_inputs(tmp_path)
    monkeypatch.setattr(teacher_inference, "bf16_supported", lambda gpu: True)
    code = ROOT / "review_distill" / "teacher_functions.py"
    output = run(tmp_path, tmp_path / "teacher", code=code, precision="bf16", report=tmp_path / "report.json")
    assert "Teacher precision: bf16" in output
    report = json.loads((tmp_path / "report.json").read_text())["en"]
    assert report["precision"] == "bf16" and report["n_labelled"] == 22 and report["texts_per_s"] > 0
    assert report["fp32_check"]["argmax_agreement"] >= teacher_inference.MIN_AGREEMENT
    teacher = load_teacher(tmp_path / "teacher", code, BINARY)
    for doc in read(tmp_path / "soft" / "en" / "train.spacy"):
        assert doc.cats["POS"] == pytest.approx(teacher(doc.text).cats["POS"], abs=0.02)
    # Another precision is another labelling: the shards start over.
    output = run(tmp_path, tmp_path / "teacher", code=code, precision="fp32")
    assert "the precision changed" in output


def test_int8_labels_agree_with_fp32_and_are_checked_and_reported(tmp_path, tiny_transformer):
    """With its Linear layers quantized to int8 the transformer teacher's labels stay near fp32's; the
    agreement check and the speed go to the report, and the teacher is fp32 again afterwards."""
    save_tiny_transformer_teacher(tmp_path / "teacher", tiny_transformer)
    write_inputs(tmp_path)
    code = ROOT / "review_distill" / "teacher_functions.py"
    output = run(tmp_path, tmp_path / "teacher", code=code, precision="int8", report=tmp_path / "report.json")
    assert "Teacher precision: int8" in output and "en: the int8 teacher agrees with the fp32 teacher" in output
    report = json.loads((tmp_path / "report.json").read_text())["en"]
    assert report["precision"] == "int8" and report["n_labelled"] == 22 and report["texts_per_s"] > 0
    assert report["fp32_check"]["argmax_agreement"] >= teacher_inference.MIN_AGREEMENT
    teacher = load_teacher(tmp_path / "teacher", code, BINARY)
    modules = teacher_inference.torch_modules(teacher)
    docs = list(read(tmp_path / "soft" / "en" / "train.spacy"))
    linear_kinds = lambda: {type(layer).__module__ for module in teacher_inference.torch_modules(teacher)
                            for layer in module.modules() if type(layer).__name__ == "Linear"}
    with teacher_inference.inference_precision(teacher, "int8", gpu=False):
        assert linear_kinds() == {"torch.ao.nn.quantized.dynamic.modules.linear"}
        int8 = [teacher(doc.text).cats["POS"] for doc in docs]
    assert teacher_inference.torch_modules(teacher) == modules and linear_kinds() == {"torch.nn.modules.linear"}
    # int8 activations are scaled by each batch's range: the labelled batches differ a little from one text alone
    assert [doc.cats["POS"] for doc in docs] == pytest.approx(int8, abs=1e-4)


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_auto_labels_in_fp32_where_the_faster_precision_disagrees_and_an_asked_one_stops(
        tmp_path, tiny_transformer, monkeypatch, backend):
    """Below MIN_AGREEMENT (here out of reach), `auto` warns and labels the language in fp32, with the
    check in the report; an asked-for precision is an error that writes nothing. (Ray's workers resolve
    `auto` by their own CPU, which the test cannot choose: with Ray, the asked-for precision only.)"""
    if backend == "ray":
        pytest.importorskip("ray")
    save_tiny_transformer_teacher(tmp_path / "teacher", tiny_transformer)
    write_inputs(tmp_path)
    monkeypatch.setattr(teacher_inference, "MIN_AGREEMENT", 1.01)
    monkeypatch.setattr(teacher_inference, "bf16_supported", lambda gpu: True)
    monkeypatch.setattr(teacher_inference, "int8_supported", lambda gpu: True)
    code = ROOT / "review_distill" / "teacher_functions.py"
    options = dict(code=code, backend=backend, ray_actors=1) if backend == "ray" else dict(code=code)
    output = run(tmp_path, tmp_path / "teacher", precision="int8", expect=1, **options)
    assert "en: the int8 teacher agrees with the fp32 teacher on" in output and "label with --precision fp32 or auto" in output
    assert not (tmp_path / "soft" / "en" / "train.spacy").exists()
    if backend == "ray":
        return
    output = run(tmp_path, tmp_path / "teacher", precision="auto", report=tmp_path / "report.json", **options)
    assert "Teacher precision: bf16 (auto)" in output and "labelling en in fp32" in output
    assert "changed since" not in output  # no shard was labelled in bf16 before the fallback
    report = json.loads((tmp_path / "report.json").read_text())["en"]
    assert report["precision"] == "fp32" and report["n_labelled"] == 22 and report["fp32_check"]["n"] == 22
    assert len(list(read(tmp_path / "soft" / "en" / "train.spacy"))) == 22


@pytest.mark.parametrize("bf16,int8", [(True, True), (False, True), (False, False)])
def test_auto_precision_is_bf16_where_native_else_fp32_and_fp32_without_a_torch_model(
        teacher_dir, tiny_transformer, tmp_path, monkeypatch, bf16, int8):
    blank_textcat = spacy.load(teacher_dir)
    assert resolve_precision("auto", blank_textcat, gpu=False) == "fp32"
    save_tiny_transformer_teacher(tmp_path / "teacher", tiny_transformer)
    transformer = load_teacher(tmp_path / "teacher", ROOT / "review_distill" / "teacher_functions.py", BINARY)
    monkeypatch.setattr(teacher_inference, "bf16_supported", lambda gpu: bf16)
    monkeypatch.setattr(teacher_inference, "int8_supported", lambda gpu: int8)
    assert resolve_precision("auto", transformer, gpu=False) == ("bf16" if bf16 else "fp32")
    if not bf16:
        with pytest.raises(DataError, match="no native bfloat16"):
            resolve_precision("bf16", transformer, gpu=False)
    if not int8:
        with pytest.raises(DataError, match="quantizes to int8 only on a CPU"):
            resolve_precision("int8", transformer, gpu=False)
    with pytest.raises(DataError, match="precision must be one of"):
        resolve_precision("fp16", transformer, gpu=False)


def test_int8_is_a_cpu_precision():
    assert not teacher_inference.int8_supported(gpu=True)


def test_an_unlabeled_language_is_labelled_from_its_pool_with_a_held_out_teacher_labelled_dev_set(tmp_path, teacher_dir):
    """No gold reviews: pool_train's reviews come first, as gold reviews would; pool_dev's go, with the
    teacher's argmax as one-hot cats, to dev.spacy beside the training texts, never into them."""
    write_inputs(tmp_path, ("en", "ja"))
    (tmp_path / "splits" / "ja" / "train.spacy").unlink()
    write_lines(tmp_path / "splits" / "ja" / "pool_train.jsonl", [{"id": f"ja-r{i}", "text": t} for i, t in enumerate(TEXTS["ja"])])
    write_lines(tmp_path / "splits" / "ja" / "pool_dev.jsonl", [{"id": f"ja-d{i}", "text": f"{words('ja', i)} d{i}"}
                                                                for i in range(5)])
    output = run(tmp_path, teacher_dir, "en", "ja", unlabeled="ja")
    assert "ja: 27 texts (gold 0, augmented 7, pool 15; 5 held out for the teacher-labelled dev set" in output
    assert "en: 22 texts (gold 6, augmented 7, pool 9) ->" in output
    for kind in ("soft", "hard"):
        train = read(tmp_path / kind / "ja" / "train.spacy", "ja")
        assert [doc.user_data["source"] for doc in train] == ["pool"] * 6 + ["augmented"] * 7 + ["pool"] * 9
        assert [doc.text for doc in train[:6]] == TEXTS["ja"]
        dev = read(tmp_path / kind / "ja" / "dev.spacy", "ja")
        assert [doc.user_data["id"] for doc in dev] == [f"ja-d{i}" for i in range(5)]
        assert all(sorted(doc.cats.values()) == [0.0, 1.0] for doc in dev)
        assert not (tmp_path / kind / "en" / "dev.spacy").exists()
    (tmp_path / "splits" / "ja" / "pool_dev.jsonl").unlink()
    output = run(tmp_path, teacher_dir, "en", "ja", unlabeled="ja", expect=1)
    assert "pool_dev.jsonl: run `spacy project run preprocess` first" in output
    assert "Every language is unlabeled (en ja)" in run(tmp_path, teacher_dir, "en", "ja", unlabeled="en ja", expect=1)


def test_transfer_texts_of_a_users_file_are_all_labelled_after_the_pool(tmp_path, teacher_dir):
    write_inputs(tmp_path, ("en", "ja"))
    texts = tmp_path / "movies.txt"
    texts.write_text("A film I loved.\n\nDull plot, poor acting.\nA film I loved.\nThe cast is great.\n", encoding="utf8")
    output = run(tmp_path, teacher_dir, "en", "ja", transfer_texts=f"en={texts}")
    assert f"en transfer texts: all 3 of {texts} (1 empty and 1 repeated left out)" in output
    assert "en: 25 texts (gold 6, augmented 7, pool 9, transfer 3) ->" in output
    assert "ja: 22 texts (gold 6, augmented 7, pool 9) ->" in output
    for kind in ("soft", "hard"):
        train = read(tmp_path / kind / "en" / "train.spacy")
        assert [doc.text for doc in train if doc.user_data["source"] == "transfer"] == [
            "A film I loved.", "Dull plot, poor acting.", "The cast is great."]
        assert [doc.user_data["id"] for doc in train[-3:]] == ["transfer_movies_1", "transfer_movies_3",
                                                               "transfer_movies_5"]
    rows = tmp_path / "rows.jsonl"
    write_lines(rows, [{"text": "Fine."}, {"body": "no text field"}])
    for value, message in ((f"en={rows}", f"{rows}:2: missing field 'text'"),
                           (f"{texts}", "transfer_texts takes lang=path pairs"),
                           (f"de={texts}", "transfer_texts names de, which is not in languages (en ja)"),
                           (f"en={tmp_path / 'none.txt'}", "none.txt (en) is not a file"),
                           (f"en={teacher_dir / 'meta.json'}", "unsupported file type '.json'")):
        assert message in run(tmp_path, teacher_dir, "en", "ja", transfer_texts=value, expect=1)


@pytest.mark.parametrize("n_labels", [3, 5])
def test_soft_labels_of_any_labels_sum_to_one_exactly_in_the_tasks_order(n_labels):
    """The last label takes 1 minus the others, which are never rounded above 1 together, even where the
    last one's score is 0."""
    labels = tuple(f"L{i}" for i in reversed(range(n_labels)))
    rng = random.Random(n_labels)
    for _ in range(10_000):
        scores = [rng.random() ** rng.choice([1, 5, 30]) for _ in labels[:-1]] + [rng.choice([0.0, rng.random()])]
        cats, logits = soft_labels(dict(zip(reversed(labels), reversed(scores))), labels)
        assert list(cats) == list(logits) == list(labels)
        assert sum(cats.values()) == 1.0 and all(0 <= p <= 1 for p in cats.values())
        for label, score in zip(labels, scores):
            assert cats[label] == pytest.approx(score / sum(scores), abs=1e-15)
            assert logits[label] == math.log(max(score, MIN_PROB))
    with pytest.raises(ValueError, match="not probabilities"):
        soft_labels(dict(zip(labels, [-0.1] + [0.5] * (n_labels - 1))), labels)


def test_binary_soft_labels_are_todays_bit_for_bit():
    """p(POS) = POS / (POS + NEG) and p(NEG) = 1 - p(POS), as before the label set came from the task."""
    rng = random.Random(1)
    for _ in range(10_000):
        pos, neg = rng.random() ** rng.choice([1, 5, 30]), rng.random() ** rng.choice([1, 5, 30])
        cats, logits = soft_labels({"NEG": neg, "POS": pos}, LABELS)
        p = pos / (pos + neg)
        assert list(cats.items()) == [("POS", p), ("NEG", 1.0 - p)]
        assert logits == {"POS": math.log(max(pos, MIN_PROB)), "NEG": math.log(max(neg, MIN_PROB))}


def test_hard_labels_are_the_argmax_with_ties_to_the_first_label_of_the_task():
    nlp = spacy.blank("en")
    stars = make_task("stars").labels
    for labels, cats, best in [(LABELS, {"POS": 0.5, "NEG": 0.5}, "POS"), (LABELS, {"POS": 0.4, "NEG": 0.6}, "NEG"),
                               (stars, {"1": 0.1, "2": 0.3, "3": 0.1, "4": 0.3, "5": 0.2}, "2"),
                               (stars, {"1": 0.1, "2": 0.2, "3": 0.1, "4": 0.2, "5": 0.4}, "5")]:
        doc = nlp.make_doc("a text")
        doc.cats = cats
        doc.user_data["gold_label"] = labels[0]
        hard = hard_doc(doc, labels)
        assert list(hard.cats.items()) == [(label, float(label == best)) for label in labels]
        assert "gold_label" not in hard.user_data


@pytest.mark.parametrize("labels", [LABELS, make_task("three_way").labels])
def test_the_precision_check_compares_the_argmax_and_every_labels_probability(monkeypatch, labels):
    """Argmax agreement over all labels; the mean |difference| over all labels' probabilities, which
    with POS and NEG is the mean |difference| in p(POS), as the key's name says."""
    rng, n = random.Random(0), 200
    runs = [[soft_labels({label: rng.random() for label in labels}, labels) for _ in range(n)]]
    runs.append([soft_labels({label: p * (1 + rng.uniform(-1e-3, 1e-3)) for label, p in cats.items()}, labels)
                 for cats, _ in runs[0]])
    probs = list(runs[0][0][0].values())
    runs[1][0] = soft_labels(dict(zip(labels, probs[-1:] + probs[:-1])), labels)  # the argmax a label on
    reference, fast = [[cats for cats, _ in run] for run in runs]
    argmax = [[max(labels, key=cats.get) for cats in run] for run in (reference, fast)]
    assert sum(a != b for a, b in zip(*argmax)) == 1
    monkeypatch.setattr(teacher_inference, "predict", lambda *args, **kwargs: runs.pop(0))
    check = teacher_inference.check_agreement(None, [{"text": str(i)} for i in range(n)], labels, "fp32", False, 8)
    assert check["n"] == n and check["argmax_agreement"] == (n - 1) / n
    mean_diff = sum(abs(a[label] - b[label]) for a, b in zip(reference, fast) for label in labels) / n / len(labels)
    assert check["mean_abs_diff_pos"] == pytest.approx(mean_diff, rel=1e-12)
    if labels == LABELS:
        assert check["mean_abs_diff_pos"] == pytest.approx(
            sum(abs(a["POS"] - b["POS"]) for a, b in zip(reference, fast)) / n, rel=1e-12)


@pytest.mark.parametrize("task_name", ["three_way", "stars"])
def test_a_teacher_of_the_tasks_labels_labels_over_all_of_them(tmp_path, tiny_transformer, task_name):
    """The project's teacher config trained on three or five labels: soft cats over all the task's labels in
    its order, summing to 1, the teacher's probabilities and logits; hard cats its argmax; gold labels of the task."""
    task = make_task(task_name)
    save_tiny_transformer_teacher(tmp_path / "teacher", tiny_transformer, labels=task.labels)
    write_inputs(tmp_path, ("en", "ja"), task=task)
    code = ROOT / "review_distill" / "teacher_functions.py"
    run(tmp_path, tmp_path / "teacher", "en", "ja", code=code)
    teacher = load_teacher(tmp_path / "teacher", code, task)
    for lang in ("en", "ja"):
        soft, hard = (read(tmp_path / kind / lang / "train.spacy", lang) for kind in ("soft", "hard"))
        assert len(soft) == len(hard) == 22
        assert [doc.user_data["gold_label"] for doc in soft[:6]] == [task.labels[i % len(task.labels)]
                                                                      for i in range(6)]
        for doc, hard_doc_ in zip(soft, hard):
            assert list(doc.cats) == list(doc.user_data["teacher_logits"]) == list(task.labels)
            assert sum(doc.cats.values()) == 1.0
            own = teacher(doc.text).cats
            for label in task.labels:
                assert doc.cats[label] == pytest.approx(own[label], rel=1e-5)
                assert doc.user_data["teacher_logits"][label] == pytest.approx(math.log(own[label]), rel=1e-5)
            best = max(task.labels, key=doc.cats.get)
            assert list(hard_doc_.cats.items()) == [(label, float(label == best)) for label in task.labels]
        assert len({doc.cats[task.labels[0]] for doc in soft}) > 1
