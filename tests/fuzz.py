"""Generated hostile texts and the checks a pipeline must pass on them (tests/test_hostile_input.py).
Imports nothing of the project, so that a packaged pipeline can be checked in a process of its own."""
import math
import pickle
import random

import pytest
import spacy

# Pieces a generated text is made of, besides code points drawn from all planes: control
# characters, NUL, bidi marks, joiners, emoji sequences, combining marks, lone surrogates,
# noncharacters, private use, CJK, words.
PIECES = [
    "\x00", "\t", "\r\n", "\x1b", "\x7f", "\u200f", "\u202e", "\u2066", "\u200d", "\ufeff", "\u3000", "\xa0",
    "👩‍👩‍👧‍👦", "🇯🇵", "👍🏽", "e\u0301", "\ud83d", "\udc00", "\ufffd", "\uffff", "\U0010ffff", "\ue000",
    "𠀀", "good", "bad", "良い", "很差", "Produkt", " ", "  ", "\n", ".", "!!!",
]


def fuzz_texts(seed: int, n: int = 40):
    rng = random.Random(seed)
    texts = ["", " ", "\n\n", "\x00", "\ud83d", "\udc00\ud83d", "👍🏽"]
    for _ in range(n):
        parts = [rng.choice(PIECES) if rng.random() < 0.5 else chr(rng.randrange(0x110000))
                 for _ in range(rng.randint(0, 30))]
        texts.append("".join(parts))
    return texts


def one_megabyte_text(seed: int) -> str:
    rng = random.Random(seed)
    chunk = "".join(rng.choice(PIECES) if rng.random() < 0.7 else chr(rng.randrange(0x110000)) for _ in range(2000))
    return (chunk * (1 + 1_000_000 // len(chunk)))[:1_000_000]


def assert_distributions(cats_list, labels):
    for cats in cats_list:
        assert list(cats) == list(labels) and all(math.isfinite(value) for value in cats.values())
        assert sum(cats.values()) == pytest.approx(1.0, abs=1e-5)


def assert_same_everywhere(nlp, texts):
    """Cats are distributions, the same through nlp(), nlp.pipe at several batch sizes and with
    two processes, and after to_bytes/from_bytes and pickling."""
    labels = nlp.get_pipe("textcat").labels
    expected = [nlp(text).cats for text in texts]
    assert_distributions(expected, labels)
    copies = [spacy.util.load_model_from_config(nlp.config).from_bytes(nlp.to_bytes()), pickle.loads(pickle.dumps(nlp))]
    runs = [list(nlp.pipe(texts, batch_size=size)) for size in (1, 3, 1000)]
    runs.append(list(nlp.pipe(texts, batch_size=4, n_process=2)))
    runs += [list(copy.pipe(texts)) for copy in copies]
    for docs in runs:
        assert [doc.text for doc in docs] == [nlp(text).text for text in texts]
        for cats, want in zip((doc.cats for doc in docs), expected):
            assert cats == pytest.approx(want, abs=1e-6)
