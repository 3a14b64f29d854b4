"""The teacher's inference for the `label` step, on either backend: loading the teacher with its
code, choosing and checking its precision (fp32, bf16 or int8), and turning its textcat's probabilities
into soft labels (cats and teacher_logits)."""
import hashlib
import math
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import spacy
from spacy.cli._util import import_code
from spacy.language import Language
from spacy.pipeline import MultiLabel_TextCategorizer, TextCategorizer
from thinc.shims import PyTorchShim
from tqdm import tqdm
from wasabi import msg

from .errors import DataError, MissingInput
from .predictions import cats_shortest_first
from .tasks import Task, top_label
from .textcat_distill import MIN_PROB

PRECISIONS = ("auto", "fp32", "bf16", "int8")
# A bf16 or int8 teacher's labels of this many texts per language are checked against its fp32 labels.
AGREEMENT_SAMPLE = 500
MIN_AGREEMENT = 0.995

Labels = Tuple[Dict[str, float], Dict[str, float]]  # (cats, teacher_logits)


def check_teacher(path: Path) -> None:
    if not (path / "config.cfg").is_file():
        raise MissingInput(f"No teacher pipeline at {path}: run `spacy project run teacher-train` first")


def load_teacher(path: Path, code: Optional[Path], task: Task) -> Language:
    """The teacher pipeline; it must have an exclusive textcat over exactly the task's labels."""
    check_teacher(path)
    if code is not None:
        import_code(code)
    nlp = spacy.load(path)
    check_teacher_labels(nlp, path, task)
    return nlp


def check_teacher_labels(nlp: Language, path: Path, task: Task) -> None:
    """Raise DataError unless one of the pipeline's exclusive textcats predicts the task's labels (in
    any order)."""
    exclusive = [pipe for _, pipe in nlp.pipeline
                 if isinstance(pipe, TextCategorizer) and not isinstance(pipe, MultiLabel_TextCategorizer)]
    if any(set(pipe.labels) == set(task.labels) for pipe in exclusive):
        return
    if not exclusive:
        raise DataError(f"{path}: the pipeline ({', '.join(nlp.pipe_names)}) has no exclusive textcat "
                        f"predicting {_and(task.labels)}")
    found = "; ".join(", ".join(pipe.labels) for pipe in exclusive)
    raise DataError(f"{path}: the teacher predicts the labels {found}, but the task {task.name} has the labels "
                    f"{', '.join(task.labels)}: retrain the teacher on this task (`spacy project run teacher-train`) "
                    "or label with the teacher's task")


def _and(labels: Sequence[str]) -> str:
    return " and ".join(labels) if len(labels) < 3 else f"{', '.join(labels[:-1])} and {labels[-1]}"


def teacher_identity(path: Path, code: Optional[Path]) -> str:
    """A hash of the teacher's files (names and contents) and of the code it is loaded with."""
    digest = hashlib.md5()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode("utf8") + b"\0")
        with file.open("rb") as file_:
            for chunk in iter(lambda: file_.read(1 << 20), b""):
                digest.update(chunk)
    if code is not None:
        digest.update(b"\0code\0" + code.read_bytes())
    return digest.hexdigest()


def torch_shims(nlp: Language) -> list:
    """The shims of the PyTorch modules inside a pipeline's components (a transformer's, for the teacher)."""
    return [shim for _, pipe in nlp.pipeline if hasattr(pipe, "model") for layer in pipe.model.walk()
            for shim in layer.shims if isinstance(shim, PyTorchShim)]


def torch_modules(nlp: Language) -> list:
    """The PyTorch modules inside a pipeline's components."""
    return [shim._model for shim in torch_shims(nlp)]


def bf16_supported(gpu: bool) -> bool:
    """Whether the device computes in bfloat16 natively: AVX-512 BF16 or AMX on a CPU."""
    import torch

    if gpu:
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def int8_supported(gpu: bool) -> bool:
    """Whether PyTorch quantizes Linear layers dynamically to int8 here: on a CPU with its x86 or fbgemm engine."""
    import torch

    return not gpu and any(engine in torch.backends.quantized.supported_engines for engine in ("x86", "fbgemm"))


def resolve_precision(precision: str, teacher: Language, gpu: bool) -> str:
    """`auto`: bf16 for a teacher with PyTorch modules on a device that computes in bf16, else fp32
    (int8 is only ever asked for: its labels stray too far from fp32's for `auto` to choose it)."""
    if precision not in PRECISIONS:
        raise DataError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "auto":
        return "bf16" if torch_modules(teacher) and bf16_supported(gpu) else "fp32"
    if precision == "bf16" and not bf16_supported(gpu):
        raise DataError("precision bf16: this device has no native bfloat16 (a CPU needs AVX-512 BF16 or AMX); "
                        "use fp32 or auto")
    if precision == "int8" and not int8_supported(gpu):
        raise DataError("precision int8: PyTorch quantizes to int8 only on a CPU with its x86 or fbgemm engine; "
                        "use fp32 or auto")
    return precision


def _float32_outputs(module, inputs, output):
    """Forward hook: bfloat16 tensors in a module's output (a tensor, tuple or ModelOutput) as float32,
    which numpy, and so thinc, can take."""
    import torch

    def cast(value):
        return value.float() if torch.is_tensor(value) and value.dtype == torch.bfloat16 else value

    if isinstance(output, dict):
        for key in list(output.keys()):
            output[key] = cast(output[key])
        return output
    if isinstance(output, tuple):
        return tuple(cast(value) for value in output)
    return cast(output)


@contextmanager
def inference_precision(teacher: Language, precision: str, gpu: bool) -> Iterator[None]:
    """Run the teacher's PyTorch modules under bf16 autocast (`precision` bf16), with float32 outputs, or
    with their Linear layers quantized to int8 (`precision` int8, PyTorch's dynamic quantization)."""
    if precision == "fp32":
        yield
        return
    import torch

    if precision == "int8":
        with _int8_linear_layers(teacher):
            yield
        return

    handles = [module.register_forward_hook(_float32_outputs) for module in torch_modules(teacher)]
    try:
        with torch.autocast("cuda" if gpu else "cpu", dtype=torch.bfloat16):
            yield
    finally:
        for handle in handles:
            handle.remove()


@contextmanager
def _int8_linear_layers(teacher: Language) -> Iterator[None]:
    """Swap each PyTorch module of the teacher for a copy whose Linear layers compute in int8."""
    import torch
    from torch.ao.quantization import quantize_dynamic

    shims = torch_shims(teacher)
    originals = [shim._model for shim in shims]
    with warnings.catch_warnings():  # PyTorch's notes that this API moves to torchao
        warnings.simplefilter("ignore")
        for shim, module in zip(shims, originals):
            shim._model = quantize_dynamic(module, {torch.nn.Linear}, dtype=torch.qint8)
    try:
        yield
    finally:
        for shim, module in zip(shims, originals):
            shim._model = module


def check_agreement(teacher: Language, items: Sequence[dict], labels: Sequence[str], precision: str, gpu: bool,
                    batch_size: int) -> dict:
    """The argmax agreement of the teacher at `precision` with the fp32 teacher and the mean |difference|
    in their probabilities, over all `labels` (with POS and NEG: the mean |difference| in p(POS), whose
    name the key keeps), on AGREEMENT_SAMPLE texts spread over `items`."""
    step = max(1, len(items) // AGREEMENT_SAMPLE)
    texts = [item["text"] for item in items[::step][:AGREEMENT_SAMPLE]]
    reference = [cats for cats, _ in predict(teacher, texts, labels, batch_size)]
    with inference_precision(teacher, precision, gpu):
        fast = [cats for cats, _ in predict(teacher, texts, labels, batch_size)]
    agreement = sum(top_label(a, labels) == top_label(b, labels) for a, b in zip(reference, fast)) / len(texts)
    diffs = [sum(abs(a[label] - b[label]) for label in labels) / len(labels) for a, b in zip(reference, fast)]
    return {"precision": precision, "n": len(texts), "argmax_agreement": agreement,
            "mean_abs_diff_pos": sum(diffs) / len(texts)}


def settle_precision(lang: str, precision: str, check: dict, fallback: bool) -> str:
    """`precision` where its labels agree with fp32's on at least MIN_AGREEMENT of the check's texts;
    else fp32 with a warning (`fallback`: the precision was chosen by `auto`) or an error."""
    agreement = check["argmax_agreement"]
    if agreement >= MIN_AGREEMENT:
        return precision
    what = (f"{lang}: the {precision} teacher agrees with the fp32 teacher on {agreement:.1%} of {check['n']} "
            f"texts, below {MIN_AGREEMENT:.1%}")
    if not fallback:
        raise DataError(f"{what}: label with --precision fp32 or auto")
    msg.warn(f"{what}: labelling {lang} in fp32")
    return "fp32"


def agreement_info(lang: str, precision: str, check: dict) -> None:
    msg.info(f"{lang}: the {precision} teacher agrees with the fp32 teacher on {check['argmax_agreement']:.1%} of "
             f"{check['n']} texts (mean |difference| in the probabilities {check['mean_abs_diff_pos']:.2g})")


def soft_labels(cats: Dict[str, float], labels: Sequence[str]) -> Labels:
    """(probabilities, log-probabilities) of `labels`, in their order, from the teacher's textcat
    scores: each but the last renormalized in double precision, the last 1 minus the others, so they
    sum to 1 exactly (added in order)."""
    scores = [float(cats[label]) for label in labels]
    total = sum(scores)
    if not (all(score >= 0 for score in scores) and 0 < total < math.inf):
        raise ValueError(f"the teacher's textcat gave {cats}, not probabilities")
    probs = [score / total for score in scores[:-1]]
    while sum(probs) > 1.0:  # rounding, with a last probability of about 0 (never with two labels)
        largest = max(range(len(probs)), key=probs.__getitem__)
        probs[largest] = math.nextafter(probs[largest], 0.0)
    probs.append(1.0 - sum(probs))
    return dict(zip(labels, probs)), {label: math.log(max(score, MIN_PROB)) for label, score in zip(labels, scores)}


def predict(teacher: Language, texts: Sequence[str], labels: Sequence[str], batch_size: int,
            progress: Optional[tqdm] = None) -> List[Labels]:
    """The teacher's soft labels (over `labels`) of each text, in order, run shortest first."""
    return [soft_labels(cats, labels) for cats in cats_shortest_first(teacher, texts, batch_size, progress)]
