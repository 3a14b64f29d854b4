"""Label texts with the teacher's probabilities, in resumable shards (`spacy project run label`), in
this process (review_distill/labelling.py) or on Ray actors (review_distill/labelling_ray.py).

The labels are the task's (CORPUS_DIR/task.json, from the preprocess step); the teacher must predict
exactly those. A language in --unlabeled has no gold train set: its pool_train reviews take the gold reviews'
place, and its pool_dev reviews, with the teacher's argmax labels, become its dev set
(review_distill/label_texts.py)."""
from pathlib import Path
from typing import List, Optional

import typer
from spacy.vocab import Vocab
from wasabi import msg

from review_distill import labelling
from review_distill.cli import run
from review_distill.device import check_device
from review_distill.errors import DataError
from review_distill.files import write_json
from review_distill.label_texts import check_inputs, check_sizes, collect_items, transfer_files
from review_distill.tasks import read_task, task_setting
from review_distill.reviews import check_unlabeled
from review_distill.teacher_inference import check_teacher

BACKENDS = ("local", "ray")


def main(
    teacher_dir: Path = typer.Argument(..., help="The teacher pipeline (teacher-train's model-best)"),
    languages: List[str] = typer.Argument(..., help="Language codes"),
    code: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="The teacher config's registered functions"),
    corpus_dir: Path = typer.Option(Path("corpus/splits"), help="task.json, {lang}/train.spacy and pool.jsonl from the preprocess step"),
    augmented_dir: Path = typer.Option(Path("corpus/augmented"), help="{lang}.jsonl from augment.py"),
    shard_dir: Path = typer.Option(Path("corpus/labels"), help="Where the shards and their manifest go, per language"),
    soft_dir: Path = typer.Option(Path("corpus/soft"), help="Where {lang}/train.spacy with the probabilities goes"),
    hard_dir: Path = typer.Option(Path("corpus/hard"), help="Where {lang}/train.spacy with the argmax labels goes"),
    pool_size: str = typer.Option("auto", help="Pool reviews to label per language (-1: all; auto: the task's default)"),
    augmented_size: str = typer.Option("auto", help="Synthetic texts to label per language (0: none, -1: all; auto: "
                                       "the task's default)"),
    shard_size: int = typer.Option(1000, help="Texts per shard"),
    batch_size: int = typer.Option(64, help="Texts per batch through the teacher"),
    seed: int = typer.Option(0, help="Seed of the samples"),
    gpu_id: int = typer.Option(-1, help="GPU id, -1 for CPU"),
    precision: str = typer.Option("fp32", help="fp32, bf16 (autocast), int8 (dynamically quantized "
                                  "Linear layers, CPU only), both checked against fp32, or auto (bf16 where the "
                                  "device computes in it natively, else fp32; fp32 for a language whose bf16 "
                                  "labels disagree)"),
    report_path: Optional[Path] = typer.Option(None, "--report", help="JSON file for the texts/s and the agreement with fp32"),
    unlabeled: str = typer.Option("", help="Space-separated languages without gold train sets (see the module doc)"),
    transfer_texts: str = typer.Option("", help="Files of texts without labels for the students, all labelled: "
                                       "'en=texts.txt zh=more.jsonl' (a text a line, or the text field of JSONL/CSV)"),
    text_field: str = typer.Option("text", help="The text field of the JSONL/CSV transfer files"),
    backend: str = typer.Option("local", help="local (this process) or ray (a pool of actors on a Ray cluster)"),
    ray_address: str = typer.Option("", help="Ray backend: empty to start Ray on this machine with all its cores, "
                                    "or a cluster's address (auto, ray://host:port)"),
    ray_actors: int = typer.Option(0, help="Ray backend: actors, each with the teacher loaded (0: as many as the "
                                   "cluster's CPUs and GPUs hold)"),
    ray_cpus: float = typer.Option(1.0, help="Ray backend: CPUs per actor"),
    ray_gpus: float = typer.Option(0.0, help="Ray backend: GPUs per actor (Ray assigns them; --gpu-id is the "
                                   "local backend's)"),
):
    """Label each language's training texts with the teacher's probabilities."""
    unlabeled = unlabeled.split()
    task = read_task(corpus_dir / "task.json")
    pool_size = task_setting(pool_size, "pool_size", task)
    augmented_size = task_setting(augmented_size, "augmented_size", task)
    check_sizes(pool_size, augmented_size, shard_size, batch_size)
    msg.info(f"The task {task.name}, {len(task.labels)} labels: pool_size {pool_size}, augmented_size {augmented_size}")
    check_unlabeled(languages, unlabeled)
    if backend not in BACKENDS:
        raise DataError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "ray":
        from review_distill import labelling_ray  # Ray is an optional dependency: only this backend imports it

        ray_options = labelling_ray.RayOptions(ray_address, ray_actors, ray_cpus, ray_gpus)
        labelling_ray.check_options(ray_options, gpu_id)
    else:
        check_device(gpu_id)
    check_inputs(languages, unlabeled, corpus_dir, augmented_dir, pool_size, augmented_size)
    check_teacher(teacher_dir)
    transfer = transfer_files(transfer_texts, languages)
    vocab = Vocab()
    items = {lang: collect_items(lang, vocab, corpus_dir, augmented_dir, pool_size, augmented_size, seed,
                                 lang in unlabeled, labels=task.labels, transfer=transfer.get(lang),
                                 text_field=text_field) for lang in languages}
    options = {"shard_dir": shard_dir, "soft_dir": soft_dir, "hard_dir": hard_dir, "shard_size": shard_size,
               "batch_size": batch_size, "precision": precision}
    if backend == "ray":
        reports = labelling_ray.label_languages(teacher_dir, code, items, task, ray_options, **options)
    else:
        reports = labelling.label_languages(teacher_dir, code, items, task, gpu_id=gpu_id, **options)
    if report_path is not None:
        write_json(report_path, reports)


if __name__ == "__main__":
    run(main)
