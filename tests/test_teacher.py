"""The teacher's config and registered functions (review_distill/teacher_functions.py), its training
script and the gate, on a tiny random BERT so that nothing needs the real model."""
import json
import re
from types import SimpleNamespace

import pytest
import spacy
import torch
import transformers
from spacy.tokens import DocBin

from review_distill import teacher_functions  # noqa: F401  (registers the config's functions)
from util import ROOT, invoke_script
from review_distill.teacher_functions import char_windows
from review_distill.gate import dev_margins
from review_distill.records import write_encoder_record
from review_distill.tasks import make_task, write_task
from review_distill.teacher import transformer_identity
from review_distill.teacher_inference import load_teacher

def reviews():
    pos = ["great , love it !", "it is great .", "良い 良い", "质量 great"]
    neg = ["bad , broken !", "it is bad .", "悪い 悪い", "质量 差"]
    return [(text, "POS") for text in pos] + [(text, "NEG") for text in neg]


def write_splits(corpus_dir, languages, labels=("POS", "NEG")):
    """The reviews in every split; with labels other than POS and NEG, the i-th review has the (i % n)-th."""
    nlp = spacy.blank("xx")
    write_task(corpus_dir / "task.json", make_task("binary") if labels == ("POS", "NEG") else make_task("stars"))
    for lang in languages:
        for split in ("train", "dev", "test"):
            docbin = DocBin(store_user_data=True)
            for i, (text, label) in enumerate(reviews()):
                doc = nlp.make_doc(text)
                if labels != ("POS", "NEG"):
                    label = labels[i % len(labels)]
                doc.cats = {name: float(label == name) for name in labels}
                docbin.add(doc)
            (corpus_dir / lang).mkdir(parents=True, exist_ok=True)
            docbin.to_disk(corpus_dir / lang / f"{split}.spacy")


def test_tokenizer_splits_every_cjk_character_and_keeps_the_text():
    nlp = spacy.blank("xx", config={"nlp": {"tokenizer": {"@tokenizers": "review_distill.cjk_chars_tokenizer.v1"}}})
    text = "思ったより良い。质量很好，Great value!"
    doc = nlp(text)
    assert doc.text == text
    assert [t.text for t in doc][:9] == ["思", "っ", "た", "よ", "り", "良", "い", "。", "质"]
    assert [t.text for t in doc][-4:] == ["，", "Great", "value", "!"]


@pytest.mark.parametrize("lang_text", ["Too small, sent it back. " * 40, "思ったより小さかったです。" * 60])
def test_long_reviews_become_overlapping_windows_that_cover_every_token(lang_text):
    nlp = spacy.blank("xx", config={"nlp": {"tokenizer": {"@tokenizers": "review_distill.cjk_chars_tokenizer.v1"}}})
    doc = nlp(lang_text)
    windows = char_windows(doc, 100)
    assert len(windows) > 2
    assert all(len(window.text) <= 100 for window in windows)
    assert windows[0].start == 0 and windows[-1].end == len(doc)
    for previous, window in zip(windows, windows[1:]):
        assert previous.start < window.start <= previous.end  # no gap, always forward
        assert window.start < previous.end  # half-overlapping


def test_short_reviews_and_single_long_tokens_stay_whole():
    nlp = spacy.blank("xx")
    assert [w.text for w in char_windows(nlp("Works fine."), 100)] == ["Works fine."]
    url = "https://example.com/" + "a" * 200
    windows = char_windows(nlp(f"see {url} ok"), 100)
    assert [w.text for w in windows] == ["see", url, "ok"]


def test_span_getter_rejects_a_window_of_nothing():
    with pytest.raises(ValueError, match="max_chars"):
        teacher_functions.configure_char_windows(0)


def test_teacher_config_trains_only_the_upper_half_of_the_encoder(tmp_path, tiny_transformer):
    """A few steps of configs/teacher.cfg on a two-layer transformer: the embeddings and the lower
    layer stay as loaded, the upper layer learns (from the third step: the textcat's output layer
    starts at zero and passes no gradient back)."""
    write_splits(tmp_path / "corpus", ["en"])
    config = spacy.util.load_config(
        ROOT / "configs" / "teacher.cfg",
        overrides={"paths.train": str(tmp_path / "corpus" / "en" / "train.spacy"),
                   "paths.dev": str(tmp_path / "corpus" / "en" / "dev.spacy"),
                   "paths.teacher_model": str(tiny_transformer)},
        interpolate=True,
    )
    nlp = spacy.util.load_model_from_config(config, auto_fill=True)
    docs = list(DocBin().from_disk(tmp_path / "corpus" / "en" / "train.spacy").get_docs(nlp.vocab))
    examples = [spacy.training.Example(nlp.make_doc(doc.text), doc) for doc in docs]
    optimizer = nlp.initialize(lambda: examples)
    bert = nlp.get_pipe("transformer").model.transformer
    before = {name: weight.detach().clone() for name, weight in bert.named_parameters()}
    for _ in range(4):
        nlp.update(examples, sgd=optimizer)
        optimizer.step_schedules()  # as `spacy train` does: the learn rate warms up from 0
    changed = {name for name, weight in bert.named_parameters() if not torch.equal(weight, before[name])}
    assert any(name.startswith("encoder.layer.1.") for name in changed)
    assert all(name.startswith(("encoder.layer.1.", "pooler.")) for name in changed)


def test_freeze_encoder_can_keep_only_the_word_embeddings_as_loaded(tiny_transformer):
    """embeddings "words": the word-embedding table stays frozen, the position embeddings and the
    embeddings' LayerNorm train with the layers; "all" freezes the whole embeddings module."""
    for embeddings, trainable in (("words", {"position_embeddings", "token_type_embeddings", "LayerNorm"}),
                                  ("all", set())):
        config = spacy.util.load_config(
            ROOT / "configs" / "teacher.cfg", interpolate=True,
            overrides={"paths.teacher_model": str(tiny_transformer), "initialize.after_init.embeddings": embeddings})
        nlp = spacy.util.load_model_from_config(config, auto_fill=True)
        examples = [spacy.training.Example.from_dict(nlp.make_doc(text), {"cats": {"POS": float(pos), "NEG": float(not pos)}})
                    for text, pos in (("great , love it !", True), ("bad , broken !", False))]
        nlp.initialize(lambda: examples)
        bert = nlp.get_pipe("transformer").model.transformer
        assert {name.split(".")[1] for name, weight in bert.named_parameters()
                if name.startswith("embeddings.") and weight.requires_grad} == trainable


def test_freeze_encoder_rejects_a_fraction_outside_zero_to_one():
    with pytest.raises(ValueError, match="frozen_fraction must be between 0 and 1, got 1.5"):
        teacher_functions.create_freeze_encoder("transformer", 1.5)
    with pytest.raises(ValueError, match="embeddings must be one of all, words, got 'none'"):
        teacher_functions.create_freeze_encoder("transformer", 0.5, "none")


def test_train_teacher_trains_once_on_all_languages_and_scores_each(tmp_path, tiny_transformer):
    write_splits(tmp_path / "corpus", ["en", "zh"])
    config = tmp_path / "teacher.cfg"
    text = (ROOT / "configs" / "teacher.cfg").read_text()
    config.write_text(re.sub(r"eval_frequency = \d+", "eval_frequency = 2", re.sub(r"max_steps = \d+", "max_steps = 4", text)))
    args = [str(config), str(tmp_path / "training"), str(tmp_path / "test.json"), "en", "zh",
            "--dev-metrics", str(tmp_path / "dev.json"), "--corpus-dir", str(tmp_path / "corpus"),
            "--merged-dir", str(tmp_path / "merged"), "--code", str(ROOT / "review_distill" / "teacher_functions.py"),
            "--transformer", str(tiny_transformer)]
    code, output = invoke_script("teacher_train", *args)
    assert code == 0, output
    assert len(DocBin().from_disk(tmp_path / "merged" / "train.spacy")) == 2 * len(reviews())
    for name in ("test.json", "dev.json"):
        metrics = json.loads((tmp_path / name).read_text())
        assert set(metrics) == {"en", "zh", "mean"} and metrics["en"]["n"] == len(reviews())
    assert "Fine-tuned the teacher" in output
    code, output = invoke_script("teacher_train", *args)
    assert code == 0 and "up to date, not training again" in output
    code, output = invoke_script("teacher_train", *args, "--checkpoint-dev-docs", "3")
    assert code == 0 and "Fine-tuned the teacher" in output
    assert len(DocBin().from_disk(tmp_path / "merged" / "dev.spacy")) == 2 * 3
    assert json.loads((tmp_path / "dev.json").read_text())["en"]["n"] == len(reviews())
    predictions = json.loads((tmp_path / "training" / "predictions" / "test" / "zh.json").read_text())
    assert len(predictions["cats"]) == len(reviews())


def test_the_teacher_config_learns_the_labels_of_the_data(tmp_path, tiny_transformer):
    """configs/teacher.cfg fixes no labels: trained on the stars task's five, the teacher's exclusive textcat
    predicts those five, and is scored on them."""
    stars = make_task("stars")
    write_splits(tmp_path / "corpus", ["en"], labels=stars.labels)
    config = tmp_path / "teacher.cfg"
    text = (ROOT / "configs" / "teacher.cfg").read_text()
    config.write_text(re.sub(r"eval_frequency = \d+", "eval_frequency = 2",
                             re.sub(r"max_steps = \d+", "max_steps = 2", text)))
    code, output = invoke_script(
        "teacher_train", config, tmp_path / "training", tmp_path / "test.json", "en",
        "--dev-metrics", tmp_path / "dev.json", "--corpus-dir", tmp_path / "corpus",
        "--merged-dir", tmp_path / "merged", "--code", ROOT / "review_distill" / "teacher_functions.py", "--transformer", tiny_transformer)
    assert code == 0, output
    teacher = load_teacher(tmp_path / "training" / "model-best", None, stars)
    assert teacher.get_pipe("textcat").labels == stars.labels
    assert list(teacher("great , love it !").cats) == list(stars.labels)
    assert json.loads((tmp_path / "dev.json").read_text())["en"]["n"] == len(reviews())


@pytest.mark.parametrize("teacher_dev, passes", [(0.80, True), (0.75, False)])
def test_gate_stops_a_teacher_that_does_not_beat_the_baseline_by_the_margin(tmp_path, teacher_dev, passes):
    baseline = {"en": {"accuracy": 0.74}, "de": {"accuracy": 0.76}, "mean": {"accuracy": 0.75}}
    teacher = {"en": {"accuracy": teacher_dev}, "de": {"accuracy": teacher_dev + 0.02}, "mean": {}}
    (tmp_path / "teacher.json").write_text(json.dumps(teacher))
    (tmp_path / "baseline.json").write_text(json.dumps(baseline))
    code, output = invoke_script("teacher_gate", tmp_path / "teacher.json", tmp_path / "baseline.json", "--margin", "0.02")
    assert (code == 0) == passes, output
    if not passes:
        assert "less than the required 2.0" in output


def test_gate_needs_baseline_scores_for_every_teacher_language():
    margins, mean = dev_margins({"en": {"accuracy": 0.9}, "mean": {}}, {"en": {"accuracy": 0.8}})
    assert margins == pytest.approx({"en": 0.1}) and mean == pytest.approx(0.1)
    with pytest.raises(ValueError, match="no dev scores for ja"):
        dev_margins({"ja": {"accuracy": 0.9}}, {"en": {"accuracy": 0.8}})


def test_the_encoders_record_leaves_the_teachers_identity_as_it_was(tmp_path):
    """A model directory that gains encoder.json (what the encoder is) trains no new teacher; a weight file
    of another size does."""
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    identity = transformer_identity(str(tmp_path))
    write_encoder_record(tmp_path, "an encoder")
    assert transformer_identity(str(tmp_path)) == identity
    (tmp_path / "model.safetensors").write_bytes(b"other weights")
    assert transformer_identity(str(tmp_path)) != identity



def test_freeze_encoder_names_an_encoder_it_cannot_freeze():
    distilbert = transformers.DistilBertModel(transformers.DistilBertConfig(
        vocab_size=20, dim=8, hidden_dim=16, n_layers=1, n_heads=2))
    pipe = SimpleNamespace(model=SimpleNamespace(transformer=distilbert))
    nlp = SimpleNamespace(get_pipe=lambda name: pipe)
    with pytest.raises(ValueError, match="not those of DistilBertModel: remove \\[initialize.after_init\\]"):
        teacher_functions.create_freeze_encoder("transformer", 0.5)(nlp)
