"""The `label` step's Ray backend (review_distill/labelling_ray.py) on a local Ray of 2 CPUs, started
once for the module: the same DocBins as the local backend, resuming after a killed driver, a dead
worker retried, a shard that fails twice stopping the run, the backend's errors, and a killed driver
that started its own Ray leaving none of it behind.

Faults are injected on the workers through the teacher's --code file, which each worker imports
when it loads the teacher: it wraps labelling_ray.predict to die, raise or hang on a shard.

No verdict depends on the time a step takes: a test waits for what it needs (a file), and only a
wait of HANG_S seconds, long enough that reaching it means a hang, fails it, saying so."""
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import spacy

from review_distill.tasks import make_task, read_task
from util import ROOT, TEXTS, label_args, read, run, save_tiny_transformer_teacher, write_inputs

ray = pytest.importorskip("ray")
psutil = pytest.importorskip("psutil")  # Ray's own copy, which importing ray puts on the path

HANG_S = 600
FAULT = '''
import os
import time
from pathlib import Path

from review_distill import labelling_ray

_predict = labelling_ray.predict
LOG = Path({log!r})
HOLD = Path({hold!r})


def predict(teacher, texts, *args, **kwargs):
    if {trigger!r} in texts:
        with LOG.open("a") as file:
            file.write("attempt\\n")
        if {action!r} == "die" and len(LOG.read_text().splitlines()) == 1:
            os._exit(1)
        if {action!r} == "raise":
            raise ValueError("boom")
        while {action!r} == "hang" and HOLD.exists():
            time.sleep(0.05)
    return _predict(teacher, texts, *args, **kwargs)


labelling_ray.predict = predict
'''
TRIGGER = TEXTS["en"][4]  # a gold review: in shard 1 of 4 texts


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


def fault_code(tmp_path, action=""):
    """A --code file that makes the workers' labelling_ray.predict `action` on the shard with TRIGGER
    (die: once, raise: always, hang: while the file `tmp_path / "hold"` exists); each attempt at it is
    a line in the log."""
    path = tmp_path / "fault.py"
    path.write_text(FAULT.format(log=str(tmp_path / "attempts.log"), hold=str(tmp_path / "hold"), trigger=TRIGGER,
                                 action=action))
    return path


def start_driver(root, teacher, log, **options):
    """scripts/label.py in a process of its own, its output to `log`; RAY_ADDRESS unset, so that an
    empty --ray-address starts a Ray of its own."""
    args = [sys.executable, str(ROOT / "scripts" / "label.py"), *label_args(root, teacher, **options)]
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    with log.open("wb") as file:
        return subprocess.Popen(args, stdout=file, stderr=subprocess.STDOUT, env=env)


def wait_for(condition, what, driver=None, log=None):
    """Return once `condition()` holds; fail if the driver exits first, or, as a hang, after HANG_S seconds."""
    limit = time.monotonic() + HANG_S
    while not condition():
        if driver is not None and driver.poll() is not None:
            output = log.read_text(errors="replace")[-3000:] if log is not None else ""
            pytest.fail(f"The driver exited ({driver.returncode}) before {what}:\n{output}")
        if time.monotonic() > limit:
            pytest.fail(f"Hung: no {what} after {HANG_S} s")
        time.sleep(0.05)


def attempts(tmp_path):
    log = tmp_path / "attempts.log"
    return len(log.read_text().splitlines()) if log.is_file() else 0


def assert_same_docs(root, expected_root, languages=("en",)):
    """The soft and hard DocBins under `root` are those under `expected_root`, the teacher's
    probabilities and logits over the task's labels to 1e-6 (the actors run torch on one thread each)."""
    labels = read_task(root / "splits" / "task.json").labels
    for lang in languages:
        for kind in ("soft", "hard"):
            docs = read(root / kind / lang / "train.spacy", lang)
            expected = read(expected_root / kind / lang / "train.spacy", lang)
            assert [(doc.text, [t.text for t in doc]) for doc in docs] == [
                (doc.text, [t.text for t in doc]) for doc in expected]
            for doc, other in zip(docs, expected):
                assert {key: value for key, value in doc.user_data.items() if key != "teacher_logits"} == {
                    key: value for key, value in other.user_data.items() if key != "teacher_logits"}
                for ours, theirs in ((doc.cats, other.cats),
                                     (doc.user_data["teacher_logits"], other.user_data["teacher_logits"])):
                    assert list(ours) == list(theirs) == list(labels)
                    assert all(ours[key] == pytest.approx(theirs[key], abs=1e-6) for key in labels)
                assert sum(doc.cats.values()) == 1.0


def test_ray_labels_as_the_local_backend(tmp_path, tiny_transformer):
    """The project's teacher config on a tiny BERT, 2 actors: the DocBins of the local backend."""
    save_tiny_transformer_teacher(tmp_path / "teacher", tiny_transformer)
    code = ROOT / "review_distill" / "teacher_functions.py"
    for backend in ("local", "ray"):
        write_inputs(tmp_path / backend, ("en", "ja"))
    run(tmp_path / "local", tmp_path / "teacher", "en", "ja", code=code)
    output = run(tmp_path / "ray", tmp_path / "teacher", "en", "ja", code=code, backend="ray", ray_actors=2,
                 report=tmp_path / "report.json")
    assert "Teacher precision: fp32 (2 Ray actors of 1 CPUs, 0 GPUs)" in output
    assert "Labelled 44 texts in" in output and "texts/s with 2 Ray workers (fp32)" in output
    assert_same_docs(tmp_path / "ray", tmp_path / "local", ("en", "ja"))
    for lang in ("en", "ja"):
        shards = sorted(path.name for path in (tmp_path / "ray" / "labels" / lang).iterdir())
        assert shards == sorted(path.name for path in (tmp_path / "local" / "labels" / lang).iterdir())
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["en"]["n_labelled"] == 22 and report["en"]["workers"] == 2 and report["en"]["texts_per_s"] > 0
    assert not list(tmp_path.rglob(".*.tmp"))
    # The manifest does not name the backend: the local run's shards are the Ray backend's too.
    output = run(tmp_path / "local", tmp_path / "teacher", "en", "ja", code=code, backend="ray", ray_actors=2)
    assert "6 of 6 shards already labelled" in output and "Labelled" not in output


def test_ray_labels_five_labels_as_the_local_backend(tmp_path, tiny_transformer):
    """A teacher of the stars task's five labels, 2 actors: the DocBins of the local backend, over all five."""
    task = make_task("stars")
    save_tiny_transformer_teacher(tmp_path / "teacher", tiny_transformer, labels=task.labels)
    code = ROOT / "review_distill" / "teacher_functions.py"
    for backend in ("local", "ray"):
        write_inputs(tmp_path / backend, ("en", "ja"), task=task)
    run(tmp_path / "local", tmp_path / "teacher", "en", "ja", code=code)
    output = run(tmp_path / "ray", tmp_path / "teacher", "en", "ja", code=code, backend="ray", ray_actors=2)
    assert "Labelled 44 texts in" in output
    assert_same_docs(tmp_path / "ray", tmp_path / "local", ("en", "ja"))
    hard = read(tmp_path / "ray" / "hard" / "en" / "train.spacy")
    assert all(sorted(doc.cats.values()) == [0.0] * 4 + [1.0] for doc in hard)


def test_auto_precision_is_resolved_on_the_workers_as_the_local_backend_resolves_it(tmp_path, tiny_transformer):
    save_tiny_transformer_teacher(tmp_path / "teacher", tiny_transformer)
    code = ROOT / "review_distill" / "teacher_functions.py"
    write_inputs(tmp_path)
    from review_distill import labelling

    teacher = labelling.load_teacher(tmp_path / "teacher", code, make_task("binary"))
    local = labelling.resolve_precision("auto", teacher, gpu=False)
    output = run(tmp_path, tmp_path / "teacher", code=code, backend="ray", ray_actors=1, precision="auto",
                 report=tmp_path / "report.json")
    assert f"Teacher precision: {local} " in output
    report = json.loads((tmp_path / "report.json").read_text())["en"]
    assert report["precision"] == local and ("fp32_check" in report) == (local != "fp32")


def test_a_killed_driver_resumes_with_no_lost_or_duplicated_texts(tmp_path, teacher_dir, local_ray):
    """The driver, labelling on the module's Ray, is killed (SIGKILL) once two shards are written, while
    an actor holds shard 1; the rerun labels the rest and ends with the uninterrupted local run's DocBins."""
    write_inputs(tmp_path / "local")
    run(tmp_path / "local", teacher_dir)
    root = tmp_path / "ray"
    write_inputs(root)
    code = fault_code(tmp_path, "hang")
    (tmp_path / "hold").touch()
    log = tmp_path / "driver.log"
    driver = start_driver(root, teacher_dir, log, code=code, backend="ray", ray_address=local_ray, ray_actors=2)
    shards = root / "labels" / "en"
    wait_for(lambda: len(list(shards.glob("shard-*.spacy"))) >= 2, "two shards written", driver, log)
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    missing = [k for k in range(6) if not (shards / f"shard-{k:05d}.spacy").is_file()]
    assert 1 in missing and len(missing) <= 4 and not (root / "soft").exists()
    (tmp_path / "hold").unlink()
    output = run(root, teacher_dir, code=code, backend="ray", ray_actors=2)
    assert f"{6 - len(missing)} of 6 shards already labelled" in output
    assert f"Labelled {sum(2 if k == 5 else 4 for k in missing)} texts in" in output
    assert_same_docs(root, tmp_path / "local")


def ray_processes(driver: "psutil.Process") -> list:
    """The processes of the Ray that `driver` started: its descendants, and any other process that
    names that Ray's session (session_{date}_{time}_{pid}) in its command line."""
    processes = driver.children(recursive=True)
    sessions = set()
    for process in processes:
        try:
            sessions.update(re.findall(r"session_\d{4}-\d\d-\d\d_[\d_-]+", " ".join(process.cmdline())))
        except psutil.Error:
            pass
    for process in psutil.process_iter():
        try:
            if process not in processes and any(name in " ".join(process.cmdline()) for name in sessions):
                processes.append(process)
        except psutil.Error:
            pass
    return processes


def running(processes: list) -> list:
    """The processes still running (a zombie has exited)."""
    alive = []
    for process in processes:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


@pytest.mark.parametrize("kill", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_driver_leaves_nothing_of_the_ray_it_started(tmp_path, teacher_dir, kill):
    """With an empty --ray-address the driver starts a Ray of its own. Killed while its actors label
    (one held on shard 1), it leaves none of that Ray's processes: on SIGTERM, Ray's handler exits
    the driver through ray.shutdown(), which stops them all before the driver is gone; on SIGKILL,
    the kernel kills the processes the driver started (gcs_server, raylet: Ray's fate-sharing,
    PR_SET_PDEATHSIG), and the raylet's children (the actors' workers, Ray's agents) exit on their
    own once they give up on the dead GCS (Ray's reconnection timeout), which the test waits for."""
    write_inputs(tmp_path)
    (tmp_path / "hold").touch()
    log = tmp_path / "driver.log"
    driver = start_driver(tmp_path, teacher_dir, log, code=fault_code(tmp_path, "hang"), backend="ray", ray_actors=2)
    wait_for(lambda: any((tmp_path / "labels" / "en").glob("shard-*.spacy")), "shard written", driver, log)
    processes = ray_processes(psutil.Process(driver.pid))
    names = {process.name() for process in processes}
    assert {"gcs_server", "raylet"} <= names, names
    os.kill(driver.pid, kill)
    driver.wait()
    try:
        wait_for(lambda: not running(processes), "exit of the Ray processes the driver started")
    finally:
        for process in running(processes):  # what a failed test leaves
            process.kill()


def test_a_dead_worker_is_retried_and_a_shard_that_fails_twice_stops_the_run(tmp_path, teacher_dir):
    write_inputs(tmp_path / "local")
    run(tmp_path / "local", teacher_dir)
    write_inputs(tmp_path / "die")
    output = run(tmp_path / "die", teacher_dir, code=fault_code(tmp_path / "die", "die"), backend="ray", ray_actors=2)
    assert attempts(tmp_path / "die") == 2 and "Labelled 22 texts" in output
    assert_same_docs(tmp_path / "die", tmp_path / "local")
    write_inputs(tmp_path / "raise")
    output = run(tmp_path / "raise", teacher_dir, code=fault_code(tmp_path / "raise", "raise"), backend="ray",
                 ray_actors=2, expect=1)
    assert "en shard 1 failed: ValueError: boom (tried 2 times)" in output
    assert attempts(tmp_path / "raise") == 2
    assert not (tmp_path / "raise" / "labels" / "en" / "shard-00001.spacy").exists()
    assert not (tmp_path / "raise" / "soft").exists()


@pytest.mark.parametrize("options, message", [
    ({"backend": "spark"}, "backend must be one of local, ray, got 'spark'"),
    ({"backend": "ray", "ray_actors": 3}, "The Ray cluster has 2 CPUs and 0 GPUs: not enough for 3 actors"),
    ({"backend": "ray", "ray_gpus": 1}, "not enough for 1 actors of 1 CPUs and 1 GPUs each"),
    ({"backend": "ray", "gpu_id": 0}, "gpu_id 0 with the ray backend"),
    ({"backend": "ray", "ray_cpus": 0}, "CPUs > 0"),
])
def test_ray_errors_are_clear_and_write_nothing(tmp_path, teacher_dir, options, message):
    write_inputs(tmp_path)
    assert message in run(tmp_path, teacher_dir, expect=1, **options)
    assert not any((tmp_path / folder).exists() for folder in ("labels", "soft", "hard"))


def test_the_teacher_is_checked_on_a_worker(tmp_path):
    write_inputs(tmp_path)
    spacy.blank("xx").to_disk(tmp_path / "blank")
    output = run(tmp_path, tmp_path / "blank", backend="ray", expect=1)
    assert "has no exclusive textcat predicting POS and NEG" in output
