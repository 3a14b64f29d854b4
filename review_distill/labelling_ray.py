"""The `label` step's Ray backend: a pool of actors, each with the teacher loaded once, on CPUs
or GPUs.

The driver does all but the teacher's inference, as the local backend does (plan, docs, atomic
shard writes), so both give the same shards and a killed driver resumes like a killed local run.
Every node needs the project, the teacher and its code at the driver's paths.
The method: docs/method.md, "Labelling on a cluster"."""
import logging
import os
import time
import warnings
from contextlib import closing
from pathlib import Path
from typing import Dict, Iterator, List, NamedTuple, Optional, Sequence

import numpy
import spacy
from tqdm import tqdm
from wasabi import msg

from . import labelling
from .errors import DataError
from .reviews import LABELS, make_nlp

try:
    import ray
    import ray.data
    from ray.util.debug import log_once
except ImportError:  # an optional dependency: only this backend needs it
    ray = None

POS, NEG = LABELS
# The workers import this module, label.py and reviews.py from the driver's scripts/.
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
    """A shard the teacher could not label, with the error (in `message`: Ray Data adds to the args)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def check_options(options: RayOptions, gpu_id: int) -> None:
    if ray is None:
        raise DataError("The ray backend needs Ray: pip install -r requirements-ray.txt")
    if options.actors < 0 or options.cpus <= 0 or options.gpus < 0:
        raise DataError(f"Ray needs actors >= 0 (0: as many as fit), CPUs > 0 and GPUs >= 0 per actor, got "
                        f"{options.actors}, {options.cpus} and {options.gpus}")
    if gpu_id >= 0 and options.gpus == 0:
        raise DataError(f"gpu_id {gpu_id} with the ray backend: Ray gives the actors GPUs, set ray_gpus_per_actor "
                        "(--ray-gpus) instead, or gpu_id -1 to label on CPUs")


def _load_teacher(teacher_dir: Path, code: Optional[Path], gpu: bool) -> spacy.language.Language:
    if gpu:
        spacy.require_gpu(0)  # Ray shows a worker only its own GPUs
    return labelling.load_teacher(teacher_dir, code)


def teacher_checks(teacher_dir: Path, code: Optional[Path], precision: str, gpu: bool, batch_size: int,
                   samples: Dict[str, Sequence[dict]]) -> tuple:
    """On a worker: the precision `precision` resolves to there and, below fp32, the agreement with the
    fp32 teacher on each language's `samples` (labelling.check_agreement)."""
    teacher = _load_teacher(teacher_dir, code, gpu)
    precision = labelling.resolve_precision(precision, teacher, gpu)
    if precision == "fp32":
        return precision, {}
    return precision, {lang: labelling.check_agreement(teacher, items, precision, gpu, batch_size)
                       for lang, items in samples.items()}


class TeacherActor:
    """Loads the teacher once; labels the shards of a batch, one per row (lang, shard, texts)."""

    def __init__(self, teacher_dir: Path, code: Optional[Path], precision: str, gpu: bool, batch_size: int):
        self.teacher = _load_teacher(teacher_dir, code, gpu)
        self.precision = labelling.resolve_precision(precision, self.teacher, gpu)  # bf16 on a node without it: an error
        self.gpu, self.batch_size = gpu, batch_size

    def __call__(self, batch: Dict[str, numpy.ndarray]) -> Dict[str, list]:
        out: Dict[str, list] = {"lang": [], "shard": [], "labels": []}
        for lang, k, texts in zip(batch["lang"], batch["shard"], batch["texts"]):
            try:
                with labelling.inference_precision(self.teacher, self.precision, self.gpu):
                    labels = labelling.predict(self.teacher, [str(text) for text in texts], self.batch_size)
            except Exception as err:
                raise ShardError(f"{lang} shard {k} failed: {type(err).__name__}: {err}") from err
            out["lang"].append(str(lang))
            out["shard"].append(int(k))
            out["labels"].append(numpy.array([[cats[POS], cats[NEG], logits[POS], logits[NEG]]
                                              for cats, logits in labels], dtype=numpy.float64))
        return out


def as_labels(rows: numpy.ndarray) -> List[labelling.Labels]:
    """An actor's output for a shard as labelling.predict's (cats, teacher_logits) per text."""
    return [({POS: pos, NEG: neg}, {POS: log_pos, NEG: log_neg}) for pos, neg, log_pos, log_neg in rows.tolist()]


def labelled_shards(labelled: "ray.data.Dataset", pending: Sequence[tuple]) -> Iterator[tuple]:
    """(lang, k, labels) per shard as the actors finish them; what stops Ray as a DataError. Closing it
    stops the Dataset's execution."""
    rows = iter(labelled.iter_rows())
    try:
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as err:  # what Ray raises: a shard's error, a dead worker, a lost node
                raise DataError(failure(err, pending)) from None
            yield str(row["lang"]), int(row["shard"]), as_labels(row["labels"])
    finally:
        if hasattr(rows, "close"):
            rows.close()


def start_ray(options: RayOptions) -> bool:
    """Connect to the cluster at options.address, or start Ray here; whether this call started it."""
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
    """teacher_checks on a worker with an actor's resources; its DataError as a DataError here."""
    # max_calls=1: the worker exits after the task, with the teacher it loaded
    task = ray.remote(num_cpus=options.cpus, num_gpus=options.gpus, max_retries=0, max_calls=1,
                      runtime_env=RUNTIME_ENV)(teacher_checks)
    try:
        return ray.get(task.remote(*args))
    except ray.exceptions.RayTaskError as err:
        if isinstance(err.cause, DataError):
            raise DataError(str(err.cause)) from None
        raise


def failure(err: Exception, pending: Sequence[tuple]) -> str:
    """What stopped the run: the shard that failed twice and its error, or the error and the shards left."""
    cause: Optional[BaseException] = err
    while cause is not None:
        if isinstance(cause, ray.exceptions.RayTaskError):  # also an instance of its cause's class
            cause = cause.cause
        elif isinstance(cause, ShardError):
            return f"{cause.message} (tried {ATTEMPTS} times)"
        elif isinstance(cause, DataError):
            return str(cause)
        else:
            cause = cause.__cause__
    shards = ", ".join(f"{lang} {k}" for lang, k in pending[:10]) + (", ..." if len(pending) > 10 else "")
    what = f"A Ray worker died {ATTEMPTS} times" if isinstance(err, ray.exceptions.RayActorError) else "Ray stopped"
    return f"{what} with shards still to label ({shards}): {type(err).__name__}: {err}"


def label_languages(
    teacher_dir: Path, code: Optional[Path], items: Dict[str, Sequence[dict]], options: RayOptions, *,
    shard_dir: Path, soft_dir: Path, hard_dir: Path, shard_size: int, batch_size: int, precision: str,
) -> Dict[str, dict]:
    """Label the missing shards of every language on Ray, then assemble each language's soft and hard
    DocBins; return labelling.label_language's report per language, with the whole run's texts/s."""
    teacher_dir, code = teacher_dir.resolve(), code.resolve() if code is not None else None
    teacher_id = labelling.teacher_identity(teacher_dir, code)
    started = start_ray(options)
    try:
        actors = n_actors(options)
        gpu = options.gpus > 0
        precision, _ = remote_teacher_checks(options, teacher_dir, code, precision, gpu, batch_size, {})
        msg.info(f"Teacher precision: {precision} ({actors} Ray actors of {options.cpus:g} CPUs, {options.gpus:g} GPUs)")
        dirs = {"shard_dir": shard_dir, "soft_dir": soft_dir, "hard_dir": hard_dir}
        plans = {lang: labelling.plan_language(lang, teacher_id, items[lang], shard_size=shard_size, precision=precision,
                                           **dirs) for lang in items}
        todo = [(lang, k) for lang, (_, shards, _) in plans.items() for k in shards]
        if todo and precision != "fp32":
            samples = {lang: items[lang] for lang, (_, shards, _) in plans.items() if shards}
            _, checks = remote_teacher_checks(options, teacher_dir, code, precision, gpu, batch_size, samples)
            for lang, check in checks.items():
                plans[lang][2]["fp32_check"] = check
                labelling.agreement_info(lang, precision, check)
        if todo:
            seconds = label_shards(teacher_dir, code, items, todo, options, actors, shard_dir=shard_dir,
                                   shard_size=shard_size, batch_size=batch_size, precision=precision)
            n_todo = sum(report["n_labelled"] for _, _, report in plans.values())
            for _, _, report in plans.values():
                if report["n_labelled"]:
                    report.update(backend="ray", workers=actors, seconds=seconds, texts_per_s=n_todo / seconds)
    finally:
        if started:
            ray.shutdown()
    for lang, (manifest, _, _) in plans.items():
        labelling.finish_language(lang, items[lang], manifest, **dirs)
    return {lang: report for lang, (_, _, report) in plans.items()}


def label_shards(
    teacher_dir: Path, code: Optional[Path], items: Dict[str, Sequence[dict]], todo: List[tuple],
    options: RayOptions, actors: int, *, shard_dir: Path, shard_size: int, batch_size: int, precision: str,
) -> float:
    """Label the shards `todo` ((lang, k) pairs) on `actors` actors, writing each as it comes back; the
    seconds it took."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the driver's own bar below
    log_once("ray_data_progress_manager_disabled")  # and no warning that Ray Data's bars are off
    context.print_on_execution_start = False
    context.enable_auto_log_stats = False
    context.actor_task_retry_on_errors = True  # an exception in a shard, like a dead actor, gets a retry
    context.raise_original_map_exception = True  # the ShardError, not Ray Data's wrapper of it
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    rows = [{"lang": lang, "shard": k, "texts": [item["text"] for item in labelling.shard_items(items[lang], shard_size, k)]}
            for lang, k in todo]
    make_docs = {lang: make_nlp(lang).make_doc for lang in {lang for lang, _ in todo}}
    with warnings.catch_warnings():
        # Ray 2.60 caps an actor task's retries only through ray_remote_args (max_task_retries), which it
        # deprecates for later versions; requirements-ray.txt pins 2.60.
        warnings.filterwarnings("ignore", message="`ray_remote_args` is deprecated")
        labelled = ray.data.from_items(rows, override_num_blocks=len(rows)).map_batches(
            TeacherActor, batch_size=1, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=actors, max_tasks_in_flight_per_actor=1),
            num_cpus=options.cpus, num_gpus=options.gpus or None,
            fn_constructor_kwargs={"teacher_dir": teacher_dir, "code": code, "precision": precision,
                                   "gpu": options.gpus > 0, "batch_size": batch_size},
            runtime_env=RUNTIME_ENV, max_restarts=-1, max_task_retries=ATTEMPTS - 1)
    n_texts = sum(len(row["texts"]) for row in rows)
    pending = list(todo)
    start = time.perf_counter()
    total = sum(map(len, items.values()))
    with tqdm(total=total, initial=total - n_texts, desc=f"label (ray, {actors} actors)", unit="doc",
              disable=None) as progress:
        with closing(labelled_shards(labelled, pending)) as shards:
            for lang, k, labels in shards:
                shard = labelling.shard_items(items[lang], shard_size, k)
                labelling.write_shard(shard_dir / lang, k, labelling.shard_docbin(make_docs[lang], shard, labels))
                pending.remove((lang, k))
                progress.update(len(shard))
                progress.set_postfix(shards=f"{len(todo) - len(pending)}/{len(todo)}")
    if pending:
        raise DataError(f"Ray returned no labels for the shards {pending}")
    seconds = time.perf_counter() - start
    msg.info(f"Labelled {n_texts} texts in {seconds:.0f}s, the actors' start included: {n_texts / seconds:.1f} "
             f"texts/s with {actors} Ray workers ({precision})")
    return seconds

