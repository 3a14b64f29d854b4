"""The `label` step's Ray backend: a pool of actors, each with the teacher loaded once, on CPUs
or GPUs.

The driver does all but the teacher's inference, as the local backend does (plan, docs, atomic
shard writes: shards.py), so both give the same shards and a killed driver resumes like a killed
local run. Every node needs the project, the teacher and its code at the driver's paths.
The method: docs/method.md, "Labelling on a cluster"."""
import logging
import os
import time
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence

import spacy
from tqdm import tqdm
from wasabi import msg

from .errors import DataError, ProjectError
from .reviews import make_nlp
from .shards import finish_language, plan_language, shard_docbin, shard_items, write_shard
from .tasks import Task
from .teacher_inference import (
    agreement_info, check_agreement, inference_precision, load_teacher, predict, resolve_precision, settle_precision,
    teacher_identity,
)

try:
    import ray
except ImportError:  # an optional dependency: only this backend needs it
    ray = None

# The workers import review_distill from the driver's project directory.
RUNTIME_ENV = {"env_vars": {"PYTHONPATH": os.pathsep.join(
    path for path in (str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH")) if path)}}
# Tries per shard: a shard whose actor raises or dies is labelled again once.
ATTEMPTS = 2


class RayOptions(NamedTuple):
    address: str  # "": start Ray here; "auto" or "ray://host:port": a cluster's
    actors: int  # 0: as many as the cluster's resources hold
    cpus: float  # per actor
    gpus: float  # per actor


class ShardError(RuntimeError):
    """A shard the teacher could not label, with the error."""


def check_options(options: RayOptions, gpu_id: int) -> None:
    if ray is None:
        raise DataError("The ray backend needs Ray: pip install -r requirements-ray.txt")
    if options.actors < 0 or options.cpus <= 0 or options.gpus < 0:
        raise DataError(f"Ray needs actors >= 0 (0: as many as fit), CPUs > 0 and GPUs >= 0 per actor, got "
                        f"{options.actors}, {options.cpus} and {options.gpus}")
    if gpu_id >= 0 and options.gpus == 0:
        raise DataError(f"gpu_id {gpu_id} with the ray backend: Ray gives the actors GPUs, set ray_gpus_per_actor "
                        "(--ray-gpus) instead, or gpu_id -1 to label on CPUs")


def _load_teacher(teacher_dir: Path, code: Optional[Path], task: Task, gpu: bool) -> spacy.language.Language:
    if gpu:
        spacy.require_gpu(0)  # Ray shows a worker only its own GPUs
    return load_teacher(teacher_dir, code, task)


def teacher_checks(teacher_dir: Path, code: Optional[Path], task: Task, precision: str, gpu: bool, batch_size: int,
                   samples: Dict[str, Sequence[dict]]) -> tuple:
    """On a worker: the teacher's labels (the task's), the precision `precision` resolves to there and,
    below fp32, the agreement with the fp32 teacher on each language's `samples`
    (teacher_inference.check_agreement)."""
    teacher = _load_teacher(teacher_dir, code, task, gpu)
    precision = resolve_precision(precision, teacher, gpu)
    if precision == "fp32":
        return precision, {}
    return precision, {lang: check_agreement(teacher, items, task.labels, precision, gpu, batch_size)
                       for lang, items in samples.items()}


class TeacherActor:
    """Loads the teacher once; labels shards with the task's labels, each at its language's precision."""

    def __init__(self, teacher_dir: Path, code: Optional[Path], task: Task, precisions: Dict[str, str], gpu: bool,
                 batch_size: int):
        self.teacher = _load_teacher(teacher_dir, code, task, gpu)
        for precision in set(precisions.values()):
            resolve_precision(precision, self.teacher, gpu)  # bf16 on a node without it: an error
        self.precisions, self.labels, self.gpu, self.batch_size = precisions, task.labels, gpu, batch_size

    def label(self, lang: str, k: int, texts: List[str]) -> tuple:
        """(lang, k, the teacher's labels of the shard's texts)."""
        try:
            with inference_precision(self.teacher, self.precisions[lang], self.gpu):
                return lang, k, predict(self.teacher, texts, self.labels, self.batch_size)
        except Exception as err:
            raise ShardError(f"{lang} shard {k} failed: {type(err).__name__}: {err}") from err


def labelled_shards(teachers: list, rows: Sequence[tuple], pending: Sequence[tuple]) -> Iterator[tuple]:
    """(lang, k, labels) per row (lang, k, texts) as the actors finish them, one shard per actor at a
    time; what stops Ray as a DataError."""
    queue, idle, running = list(rows), list(teachers), {}
    while queue or running:
        while queue and idle:
            teacher = idle.pop()
            running[teacher.label.options(retry_exceptions=True).remote(*queue.pop(0))] = teacher
        [done], _ = ray.wait(list(running), num_returns=1)
        idle.append(running.pop(done))
        try:
            labelled = ray.get(done)
        except Exception as err:  # what Ray raises: a shard's error, a dead worker, a lost node
            raise DataError(failure(err, pending)) from None
        yield labelled


def start_ray(options: RayOptions) -> bool:
    """Connect to the cluster at options.address, or start Ray here; whether this call started it.
    Ray's own SIGTERM handler exits the driver through the `finally` that shuts it down, and the Ray
    processes it starts die with it (kernel fate-sharing) when it is killed."""
    if ray.is_initialized():
        return False
    try:
        ray.init(address=options.address or None, include_dashboard=False, logging_level=logging.WARNING)
    except ConnectionError as err:
        raise DataError(f"No Ray cluster at ray_address {options.address!r}: {err}") from None
    return True


def n_actors(options: RayOptions) -> int:
    """options.actors, or as many as fit (0); an error if the cluster has not the resources for them."""
    resources = ray.cluster_resources()
    cpus, gpus = resources.get("CPU", 0), resources.get("GPU", 0)
    fit = int(min(cpus // options.cpus, gpus // options.gpus if options.gpus else cpus // options.cpus))
    actors = options.actors or fit
    if actors < 1 or actors > fit:
        raise DataError(f"The Ray cluster has {cpus:g} CPUs and {gpus:g} GPUs: not enough for {actors or 1} actors "
                        f"of {options.cpus:g} CPUs and {options.gpus:g} GPUs each")
    return actors


def remote_teacher_checks(options: RayOptions, *args) -> tuple:
    """teacher_checks on a worker with an actor's resources; its ProjectError as the same error here."""
    # max_calls=1: the worker exits after the task, with the teacher it loaded
    task = ray.remote(num_cpus=options.cpus, num_gpus=options.gpus, max_retries=0, max_calls=1,
                      runtime_env=RUNTIME_ENV)(teacher_checks)
    try:
        return ray.get(task.remote(*args))
    except ray.exceptions.RayTaskError as err:
        if isinstance(err.cause, ProjectError):
            raise type(err.cause)(str(err.cause)) from None
        raise


def failure(err: Exception, pending: Sequence[tuple]) -> str:
    """What stopped the run: the shard that failed twice and its error, or the error and the shards left."""
    cause: Optional[BaseException] = err
    while cause is not None:
        if isinstance(cause, ray.exceptions.RayTaskError):  # also an instance of its cause's class
            cause = cause.cause
        elif isinstance(cause, ShardError):
            return f"{cause} (tried {ATTEMPTS} times)"
        elif isinstance(cause, DataError):
            return str(cause)
        else:
            cause = cause.__cause__
    shards = ", ".join(f"{lang} {k}" for lang, k in pending[:10]) + (", ..." if len(pending) > 10 else "")
    what = f"A Ray worker died {ATTEMPTS} times" if isinstance(err, ray.exceptions.RayActorError) else "Ray stopped"
    return f"{what} with shards still to label ({shards}): {type(err).__name__}: {err}"


def label_languages(
    teacher_dir: Path, code: Optional[Path], items: Dict[str, Sequence[dict]], task: Task, options: RayOptions, *,
    shard_dir: Path, soft_dir: Path, hard_dir: Path, shard_size: int, batch_size: int, precision: str,
) -> Dict[str, dict]:
    """Label the missing shards of every language with the task's labels on Ray, then assemble each
    language's soft and hard DocBins; return labelling.label_language's report per language, with the
    whole run's texts/s."""
    teacher_dir, code = teacher_dir.resolve(), code.resolve() if code is not None else None
    teacher_id = teacher_identity(teacher_dir, code)
    started = start_ray(options)
    try:
        actors = n_actors(options)
        gpu = options.gpus > 0
        resolved, _ = remote_teacher_checks(options, teacher_dir, code, task, precision, gpu, batch_size, {})
        msg.info(f"Teacher precision: {resolved}{' (auto)' if precision == 'auto' else ''} ({actors} Ray actors of "
                 f"{options.cpus:g} CPUs, {options.gpus:g} GPUs)")
        dirs = {"shard_dir": shard_dir, "soft_dir": soft_dir, "hard_dir": hard_dir}
        precisions = {lang: resolved for lang in items}
        plans = {lang: plan_language(lang, teacher_id, items[lang], shard_size=shard_size, precision=resolved,
                                     **dirs) for lang in items}
        samples = {lang: items[lang] for lang, (_, shards, _) in plans.items() if shards}
        if samples and resolved != "fp32":
            _, checks = remote_teacher_checks(options, teacher_dir, code, task, resolved, gpu, batch_size, samples)
            for lang, check in checks.items():
                agreement_info(lang, resolved, check)
                precisions[lang] = settle_precision(lang, resolved, check, fallback=precision == "auto")
                if precisions[lang] != resolved:
                    plans[lang] = plan_language(lang, teacher_id, items[lang], shard_size=shard_size,
                                                precision=precisions[lang], **dirs)
                plans[lang][2]["fp32_check"] = check
        todo = [(lang, k) for lang, (_, shards, _) in plans.items() for k in shards]
        if todo:
            seconds = label_shards(teacher_dir, code, items, task, todo, options, actors, shard_dir=shard_dir,
                                   shard_size=shard_size, batch_size=batch_size, precisions=precisions)
            n_todo = sum(report["n_labelled"] for _, _, report in plans.values())
            for _, _, report in plans.values():
                if report["n_labelled"]:
                    report.update(backend="ray", workers=actors, seconds=seconds, texts_per_s=n_todo / seconds)
    finally:
        if started:
            ray.shutdown()
    for lang, (manifest, _, _) in plans.items():
        finish_language(lang, items[lang], manifest, task.labels, **dirs)
    return {lang: report for lang, (_, _, report) in plans.items()}


def label_shards(
    teacher_dir: Path, code: Optional[Path], items: Dict[str, Sequence[dict]], task: Task, todo: List[tuple],
    options: RayOptions, actors: int, *, shard_dir: Path, shard_size: int, batch_size: int, precisions: Dict[str, str],
) -> float:
    """Label the shards `todo` ((lang, k) pairs) on `actors` actors, writing each as it comes back; the
    seconds it took, the actors' start included."""
    rows = [(lang, k, [item["text"] for item in shard_items(items[lang], shard_size, k)]) for lang, k in todo]
    make_docs = {lang: make_nlp(lang).make_doc for lang in {lang for lang, _ in todo}}
    n_texts = sum(len(texts) for _, _, texts in rows)
    pending = list(todo)
    start = time.perf_counter()
    # A dead actor is restarted (its teacher loaded again), and a shard that raised or whose actor died
    # is labelled again, ATTEMPTS times in all.
    teacher_actor = ray.remote(TeacherActor).options(
        num_cpus=options.cpus, num_gpus=options.gpus, max_restarts=-1, max_task_retries=ATTEMPTS - 1,
        runtime_env=RUNTIME_ENV)
    teachers = [teacher_actor.remote(teacher_dir, code, task, precisions, options.gpus > 0, batch_size)
                for _ in range(actors)]
    total = sum(map(len, items.values()))
    try:
        with tqdm(total=total, initial=total - n_texts, desc=f"label (ray, {actors} actors)", unit="doc",
                  disable=None) as progress:
            for lang, k, labels in labelled_shards(teachers, rows, pending):
                shard = shard_items(items[lang], shard_size, k)
                write_shard(shard_dir / lang, k, shard_docbin(make_docs[lang], shard, labels))
                pending.remove((lang, k))
                progress.update(len(shard))
                progress.set_postfix(shards=f"{len(todo) - len(pending)}/{len(todo)}")
    finally:
        for teacher in teachers:
            ray.kill(teacher)
    seconds = time.perf_counter() - start
    msg.info(f"Labelled {n_texts} texts in {seconds:.0f}s, the actors' start included: {n_texts / seconds:.1f} "
             f"texts/s with {actors} Ray workers ({', '.join(sorted(set(precisions.values())))})")
    return seconds
