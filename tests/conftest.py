"""The tests' fixtures; plain helpers are in tests/util.py."""
import json
from pathlib import Path

import pytest
import spacy
from spacy.training import Example
from thinc.api import Adam

from review_distill.packaging import package_students
from review_distill.reviews import make_nlp
from review_distill.tasks import make_task, write_task
from util import (
    CHAR_LANGUAGES, MAIN, PACKAGE_CODE, ROOT, TEACHER, TEACHER_SCORES, TEXTS, WORDS, toy_corpus, train_toy_students,
    write_card_inputs,
)

SHARED_DATA = ROOT.parent / "shared" / "data" / "amazon_reviews_multi"


@pytest.fixture
def shared_data() -> Path:
    if not (SHARED_DATA / "ja" / "train.jsonl").is_file():
        pytest.skip(f"the review data is not at {SHARED_DATA}")
    return SHARED_DATA


# --- The students' component and its packages ---


@pytest.fixture(scope="session")
def project(tmp_path_factory):
    """Toy de, zh (jieba words) and ja (characters) students trained as the workflow trains
    them, packaged by package.py."""
    tmp = tmp_path_factory.mktemp("project")
    corpora = {}
    for lang, words in WORDS.items():
        nlp = make_nlp(lang)
        corpora[lang] = (toy_corpus(nlp, 0.8, *words), toy_corpus(nlp, 1.0, *words))
    training, metrics = train_toy_students(tmp, "student_bow", corpora, char_languages=CHAR_LANGUAGES)
    summary = tmp / "metrics" / "summary.json"
    hotels = {"lang": "zh", "domain": "hotel reviews", "n": 1000, "accuracy": {"student": 0.701, "teacher": 0.862}}
    summary.write_text(json.dumps({"default_student": "student_bow", "out_of_domain": {"sets": {"zh_hotels": hotels}}}))
    write_task(tmp / "corpus" / "task.json", make_task("binary"))
    write_card_inputs(tmp, {lang: {"source": "local", "labelled": 64, "unlabelled": 0} for lang in WORDS},
                      {lang: TEACHER_SCORES for lang in WORDS}, {"train": 16, "dev": 8, "test": 8, "pool": 0})
    package_students(
        training.parent, tmp / "packages", list(WORDS), summary_path=summary, metrics_dir=metrics.parent,
        splits_dir=tmp / "corpus", code=PACKAGE_CODE, main_module=MAIN, name="review_sentiment", version="0.1.0",
        teacher=TEACHER, teacher_dir=tmp / "no_teacher", data_license="", unlabeled=[],
    )
    # The word-split students' training texts (a character may turn up in any binary file).
    texts = {lang: [eg.text for eg in train] for lang, (train, _) in corpora.items() if lang not in CHAR_LANGUAGES}
    return tmp, training, metrics, texts


# The teachers of the label step's tests (tests/test_labelling.py, tests/test_labelling_ray.py) and of
# tests/test_teacher.py.
TINY_BERT_WORDS = ["great", "love", "bad", "broken", "it", "is", ".", "!", "良", "い", "悪", "质", "量", "差"]


@pytest.fixture(scope="module")
def tiny_transformer(tmp_path_factory):
    """A 2-layer BERT with a word-level tokenizer, saved as a Hugging Face directory."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    path = tmp_path_factory.mktemp("tiny_bert")
    vocab = {token: i for i, token in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + TINY_BERT_WORDS)}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Split("", "isolated")])
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
        model_max_length=64,
    )
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64)
    BertModel(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory):
    """A blank "xx" pipeline with spaCy's textcat, nudged off its initial weights."""
    nlp = spacy.blank("xx")
    nlp.add_pipe("textcat")
    examples = [Example.from_dict(nlp.make_doc(text), {"cats": {"POS": float(i % 2 == 0), "NEG": float(i % 2 == 1)}})
                for i, text in enumerate(TEXTS["en"] + TEXTS["ja"])]
    nlp.initialize(lambda: examples)
    optimizer = Adam(0.01)
    for _ in range(3):
        nlp.update(examples, sgd=optimizer)
    path = tmp_path_factory.mktemp("teacher") / "model"
    nlp.to_disk(path)
    return path
