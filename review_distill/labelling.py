"""The `label` step's local backend: the teacher labels each language's texts (label_texts.py) in
this process, shard by shard (shards.py), each doc with the teacher's probabilities over the task's
labels as `doc.cats` and its log-probabilities in `user_data["teacher_logits"]`. Writes
SOFT_DIR/{lang}/train.spacy and, with argmax one-hot cats, HARD_DIR/{lang}/train.spacy. The method:
docs/method.md, "Soft labels"."""
import time
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence

from spacy.cli._util import setup_gpu
from spacy.language import Language
from spacy.tokens import Doc, DocBin
from tqdm import tqdm
from wasabi import msg

from .reviews import make_nlp
from .shards import finish_language, plan_language, shard_docbin, shard_items, write_shard
from .tasks import Task
from .teacher_inference import (
    agreement_info, check_agreement, inference_precision, load_teacher, predict, resolve_precision, settle_precision,
    teacher_identity,
)


def label_shard(
    teacher: Language, make_doc: Callable[[str], Doc], items: Sequence[dict], labels: Sequence[str], batch_size: int,
    progress: Optional[tqdm] = None,
) -> DocBin:
    texts = [item["text"] for item in items]
    return shard_docbin(make_doc, items, predict(teacher, texts, labels, batch_size, progress))


def label_language(
    lang: str, teacher: Language, teacher_id: str, items: Sequence[dict], task: Task, *, shard_dir: Path,
    soft_dir: Path, hard_dir: Path, shard_size: int, batch_size: int, precision: str = "fp32", gpu: bool = False,
    fallback: bool = False,
) -> dict:
    """Label the missing shards of a language with the task's labels, then assemble its soft and hard
    DocBins; return what was labelled, how fast, and (bf16, int8) the agreement with the fp32 teacher,
    below which the language is labelled in fp32 (`fallback`) or is an error (settle_precision)."""
    dirs = {"shard_dir": shard_dir, "soft_dir": soft_dir, "hard_dir": hard_dir}
    manifest, todo, report = plan_language(lang, teacher_id, items, shard_size=shard_size, precision=precision, **dirs)
    if report["n_labelled"] and precision != "fp32":
        check = check_agreement(teacher, items, task.labels, precision, gpu, batch_size)
        agreement_info(lang, precision, check)
        if settle_precision(lang, precision, check, fallback) != precision:
            precision = "fp32"
            manifest, todo, report = plan_language(lang, teacher_id, items, shard_size=shard_size, precision=precision,
                                                   **dirs)
        report["fp32_check"] = check
    n_todo = report["n_labelled"]
    make_doc = make_nlp(lang).make_doc
    start = time.perf_counter()
    with tqdm(total=len(items), initial=len(items) - n_todo, desc=f"{lang} label", unit="doc",
              leave=False, disable=None) as progress, inference_precision(teacher, precision, gpu):
        for k in todo:
            shard = label_shard(teacher, make_doc, shard_items(items, shard_size, k), task.labels, batch_size, progress)
            write_shard(shard_dir / lang, k, shard)
    seconds = time.perf_counter() - start
    if n_todo:
        report.update(seconds=seconds, texts_per_s=n_todo / seconds)
        msg.info(f"{lang}: labelled {n_todo} texts in {seconds:.0f}s ({n_todo / seconds:.1f} docs/s, {precision})")
    finish_language(lang, items, manifest, task.labels, **dirs)
    return report


def label_languages(
    teacher_dir: Path, code: Optional[Path], items: Dict[str, Sequence[dict]], task: Task, *, shard_dir: Path,
    soft_dir: Path, hard_dir: Path, shard_size: int, batch_size: int, precision: str, gpu_id: int,
) -> Dict[str, dict]:
    """Label every language's texts (`items`) with the task's labels in this process, on GPU `gpu_id`
    (-1: the CPU); return label_language's report per language. The teacher must predict the task's labels."""
    setup_gpu(gpu_id)
    teacher = load_teacher(teacher_dir, code, task)
    teacher_id = teacher_identity(teacher_dir, code)
    resolved = resolve_precision(precision, teacher, gpu_id >= 0)
    msg.info(f"Teacher precision: {resolved}" + (" (auto)" if precision == "auto" else ""))
    return {lang: label_language(lang, teacher, teacher_id, texts, task, shard_dir=shard_dir, soft_dir=soft_dir,
                                 hard_dir=hard_dir, shard_size=shard_size, batch_size=batch_size,
                                 precision=resolved, gpu=gpu_id >= 0, fallback=precision == "auto")
            for lang, texts in items.items()}
