"""The `benchmark` step: words/s, size on disk, load time and peak memory of the teacher, the
students and the baselines, on the same test texts in one run, next to the bare tokenizers.

Every model is credited with the words of its language's word tokenizer for the same texts.
`nlp.pipe` is timed over raw texts, tokenization included; load time and peak memory come from
a fresh process per model (`python -m review_distill.benchmark measure`). Writes
metrics/benchmark.json. How it measures: docs/method.md, "Reading the report"."""
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import islice
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy
import typer
from spacy.language import Language
from wasabi import msg

from .code_files import code_paths, import_code_paths
from .files import atomic_path
from .reviews import make_nlp

TOKENIZER = "tokenizer"
WORD_TOKENIZER = "word_tokenizer"
TEACHER = "teacher"
BASELINE = "baseline_bow"
# Models of the `ablations` workflow, benchmarked where they have been trained.
ABLATIONS = ("baseline_ensemble", "student_dan", "student_ensemble", "student_hard")
# A student ships only at this many times the teacher's words/s or more.
TEACHER_TARGET = 100.0
HERE = Path(__file__).resolve().parent

app = typer.Typer(add_completion=False, help=__doc__.split("\n\n")[0])


@dataclass
class ModelSpec:
    """What to benchmark: a model directory per language (the same one for all languages if
    `multilingual`, None for the language's word tokenizer), code to import first, and how;
    `tokenizer_only`: the pipeline without its components; `timed_with`: a model benchmarked
    before it, whose speed is timed again in this model's process, in alternating passes."""

    name: str
    paths: Dict[str, Optional[Path]]
    multilingual: bool = False
    code: Optional[Path] = None
    batch_size: int = 256
    repeats: int = 5
    tokenizer_only: bool = False
    timed_with: Optional[str] = None


class MissingInput(FileNotFoundError):
    """An input of this step does not exist yet."""


# --- in the measuring process ---------------------------------------------------------------


def peak_rss_bytes() -> int:
    """This process's peak resident memory so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux counts KiB


def measure_speeds(
    nlps: Dict[str, Language], texts: Sequence[str], words: Sequence[int], batch_size: int, repeats: int,
    warmup: int, min_seconds: float = 0.0,
) -> Dict[str, Dict]:
    """Docs/s and words/s of each pipeline's nlp.pipe over the raw texts (words[i] = words of
    texts[i]): the median of whole passes, after a warm-up pass over the first `warmup` texts.
    The pipelines take turns, a pass each, until each has made at least `repeats` passes and
    timed at least `min_seconds`."""
    from spacy.cli.benchmark_speed import bootstrap

    if not texts or len(texts) != len(words):
        raise ValueError(f"need texts and a word count per text, got {len(texts)} texts and {len(words)} counts")
    for nlp in nlps.values():
        for _ in nlp.pipe(texts[:warmup], batch_size=batch_size):
            pass
    passes = {name: [] for name in nlps}
    cpu_per_wall = {name: [] for name in nlps}
    batch_wps = {name: [] for name in nlps}
    while any(len(passes[name]) < repeats or sum(passes[name]) < min_seconds for name in nlps):
        for name, nlp in nlps.items():
            stream = nlp.pipe(texts, batch_size=batch_size)
            done, elapsed = 0, 0.0
            cpu_start = time.process_time()
            while done < len(texts):
                start = time.perf_counter()
                n_batch = sum(1 for _ in islice(stream, batch_size))
                seconds = max(time.perf_counter() - start, 1e-9)
                batch_wps[name].append(sum(words[done : done + n_batch]) / seconds)
                done += n_batch
                elapsed += seconds
            passes[name].append(elapsed)
            cpu_per_wall[name].append((time.process_time() - cpu_start) / elapsed)
    speeds = {}
    for name in nlps:
        seconds = statistics.median(passes[name])
        numpy.random.seed(0)
        means = numpy.sort(bootstrap(numpy.array(batch_wps[name]), iterations=2000))
        speeds[name] = {
            "docs_per_second": len(texts) / seconds,
            "words_per_second": sum(words) / seconds,
            "seconds_per_pass": passes[name],
            "cpu_per_wall": statistics.median(cpu_per_wall[name]),
            "batch_words_per_second_ci95": [float(means[int(len(means) * 0.025)]), float(means[int(len(means) * 0.975)])],
        }
    return speeds


def run_job(job: Dict) -> Dict:
    """Load one model (or a bare tokenizer) and time it on each language's texts; report its
    load time and this process's peak memory. With job["timed_with"], a second model's
    directory, that model is loaded after the peak memory is taken (and a pass over every
    text made) and timed in turns with the first. Meant to run in a fresh process."""
    import spacy

    import_code_paths(code_paths(job.get("code")))
    start = time.perf_counter()
    if job["model"] is None:
        (lang,) = [run["lang"] for run in job["runs"]]
        nlp = make_nlp(lang)
    elif job.get("tokenizer_only"):
        components = spacy.util.load_config(Path(job["model"]) / "config.cfg")["nlp"]["pipeline"]
        nlp = spacy.load(job["model"], exclude=components)
    else:
        nlp = spacy.load(job["model"])
    load_seconds = time.perf_counter() - start
    nlps, peak_rss = {"model": nlp}, None
    if job.get("timed_with"):
        for run in job["runs"]:
            for _ in nlp.pipe(run["texts"], batch_size=job["batch_size"]):
                pass
        peak_rss = peak_rss_bytes()
        nlps["timed_with"] = spacy.load(job["timed_with"])
    speeds = {
        run["lang"]: measure_speeds(
            nlps, run["texts"], run["words"], job["batch_size"], job["repeats"], job["warmup"], job["min_seconds"]
        )
        for run in job["runs"]
    }
    torch = sys.modules.get("torch")
    result = {
        "load_seconds": load_seconds,
        "peak_rss_bytes": peak_rss or peak_rss_bytes(),
        "torch_threads": torch.get_num_threads() if torch else None,
        "languages": {lang: speed["model"] for lang, speed in speeds.items()},
    }
    if "timed_with" in nlps:
        result["timed_with_languages"] = {lang: speed["timed_with"] for lang, speed in speeds.items()}
    return result


@app.command("measure", hidden=True)
def measure_cli(job_path: Path, output_path: Path):
    """Run the job in JOB_PATH (JSON) and write its result to OUTPUT_PATH."""
    result = run_job(json.loads(job_path.read_text(encoding="utf8")))
    output_path.write_text(json.dumps(result), encoding="utf8")


# --- in the parent process ------------------------------------------------------------------


def measure_in_subprocess(job: Dict) -> Dict:
    """run_job in a fresh Python process, so that its load time and peak memory are its own."""
    with tempfile.TemporaryDirectory() as tmp:
        job_path, output_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job_path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf8")
        process = subprocess.run(
            [sys.executable, "-m", __name__, "measure", str(job_path), str(output_path)], capture_output=True, text=True
        )
        if process.returncode != 0 or not output_path.is_file():
            raise RuntimeError(f"measuring {job['model'] or 'the word tokenizer'} failed:\n{process.stderr[-3000:]}")
        return json.loads(output_path.read_text(encoding="utf8"))


def dir_size(path: Path) -> int:
    """Bytes of the files under a directory."""
    return sum(file.stat().st_size for file in Path(path).rglob("*") if file.is_file() and not file.is_symlink())


def read_texts(path: Path, n_docs: int) -> List[str]:
    """The first n_docs texts of a DocBin."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    if not Path(path).is_file():
        raise MissingInput(f"Missing {path}: run `spacy project run preprocess` first")
    texts = [doc.text for doc in DocBin().from_disk(path).get_docs(Vocab())][:n_docs]
    if not texts:
        raise ValueError(f"{path} holds no texts")
    return texts


def count_words(lang: str, texts: Sequence[str]) -> List[int]:
    """Tokens of the language's word tokenizer per text: the words every model is credited with."""
    nlp = make_nlp(lang)
    return [len(doc) for doc in nlp.pipe(texts)]


def check_specs(specs: Sequence[ModelSpec], languages: Sequence[str]) -> None:
    """Raise MissingInput for a model not trained, ValueError for a model timed in turns with one
    that is not a per-language model benchmarked before it."""
    for spec in specs:
        for lang in languages:
            path = spec.paths.get(lang, "absent")
            if path == "absent" or (path is not None and not (Path(path) / "meta.json").is_file()):
                raise MissingInput(
                    f"Missing the {spec.name} model for {lang} ({path}/meta.json): train it first "
                    "(`spacy project run all` runs every step)"
                )
    for index, spec in enumerate(specs):
        earlier = {other.name: other for other in specs[:index] if not other.multilingual}
        if spec.timed_with and (spec.multilingual or spec.timed_with not in earlier):
            raise ValueError(f"{spec.name} can only be timed with a per-language model benchmarked before it, "
                             f"not {spec.timed_with!r}")


def measure_multilingual(spec: ModelSpec, job: Dict, runs: Dict[str, Dict]) -> Tuple[Dict, Dict, Dict]:
    """One process loads the model once and runs every language: (fields, speed, {})."""
    languages = list(runs)
    path = spec.paths[languages[0]]
    msg.text(f"Measuring {spec.name} ({path}) on {', '.join(languages)}")
    result = measure_in_subprocess({**job, "model": str(path), "runs": [runs[lang] for lang in languages]})
    fields = {key: result[key] for key in ("load_seconds", "peak_rss_bytes", "torch_threads")}
    fields["size_bytes"] = dir_size(path)
    return fields, result["languages"], {}


def measure_per_language(spec: ModelSpec, job: Dict, runs: Dict[str, Dict], paths: Dict[str, Dict]
                         ) -> Tuple[Dict, Dict, Dict]:
    """A process per language: (fields, speed, the speed of the model it was timed in turns with)."""
    fields = {key: {} for key in ("load_seconds", "peak_rss_bytes", "torch_threads", "size_bytes")}
    speed, timed_with_speed = {}, {}
    for lang in runs:
        path = spec.paths[lang]
        shown = f"{path}, without its components" if spec.tokenizer_only else path or "the word tokenizer"
        if spec.timed_with:
            shown += f", in turns with {spec.timed_with}"
        msg.text(f"Measuring {spec.name} for {lang} ({shown})")
        model = str(path) if path is not None else None
        timed_with = str(paths[spec.timed_with][lang]) if spec.timed_with else None
        result = measure_in_subprocess({**job, "model": model, "timed_with": timed_with, "runs": [runs[lang]]})
        for key in ("load_seconds", "peak_rss_bytes", "torch_threads"):
            fields[key][lang] = result[key]
        fields["size_bytes"][lang] = dir_size(path) if path is not None and not spec.tokenizer_only else None
        speed[lang] = result["languages"][lang]
        if spec.timed_with:
            timed_with_speed[lang] = result["timed_with_languages"][lang]
    return fields, speed, timed_with_speed


def benchmark_models(
    specs: Sequence[ModelSpec], texts: Dict[str, List[str]], warmup: int = 100, min_seconds: float = 0.0
) -> Dict:
    """Measure every model on every language's texts; the result as benchmark.json holds it."""
    languages = list(texts)
    check_specs(specs, languages)
    paths = {spec.name: spec.paths for spec in specs}
    words = {lang: count_words(lang, texts[lang]) for lang in languages}
    runs = {lang: {"lang": lang, "texts": texts[lang], "words": words[lang]} for lang in languages}
    models = {}
    for spec in specs:
        job = {"code": str(spec.code) if spec.code else None, "batch_size": spec.batch_size,
               "repeats": spec.repeats, "warmup": warmup, "min_seconds": min_seconds,
               "tokenizer_only": spec.tokenizer_only}
        if spec.multilingual:
            fields, speed, timed_with_speed = measure_multilingual(spec, job, runs)
        else:
            fields, speed, timed_with_speed = measure_per_language(spec, job, runs, paths)
        models[spec.name] = {
            "multilingual": spec.multilingual,
            "batch_size": spec.batch_size,
            "repeats": spec.repeats,
            **fields,
            **speed_fields(speed, languages),
        }
        if spec.timed_with:
            # The other model's speed, timed apart, is kept; its timing in turns is the one compared.
            other = models[spec.timed_with]
            other["timing_alone"] = other["timing"]
            other.update(speed_fields(timed_with_speed, languages))
            models[spec.name]["timed_with"] = spec.timed_with
    return {
        "languages": languages,
        "n_docs": {lang: len(texts[lang]) for lang in languages},
        "n_words": {lang: sum(words[lang]) for lang in languages},
        "words": "tokens of the language's word tokenizer (reviews.make_nlp)",
        "warmup_docs": warmup,
        "min_seconds": min_seconds,
        "processes": 1,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "models": models,
    }


def speed_fields(speed: Dict[str, Dict], languages: Sequence[str]) -> Dict:
    """A model's speed fields in benchmark.json, from measure_speeds' result per language."""
    return {
        "docs_per_second": {lang: speed[lang]["docs_per_second"] for lang in languages},
        "words_per_second": {lang: speed[lang]["words_per_second"] for lang in languages},
        "cpu_per_wall": {lang: speed[lang]["cpu_per_wall"] for lang in languages},
        "passes": {lang: len(speed[lang]["seconds_per_pass"]) for lang in languages},
        "timing": speed,
    }


def speed_ratios(models: Dict, student: str, languages: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """Per language, the student's words/s over the teacher's and over the bare tokenizer's."""
    wps = {name: models[name]["words_per_second"] for name in (student, TEACHER, TOKENIZER) if name in models}
    ratios = {}
    for other, key in ((TEACHER, "vs_teacher"), (TOKENIZER, "vs_tokenizer")):
        if student in wps and other in wps:
            ratios[key] = {lang: wps[student][lang] / wps[other][lang] for lang in languages}
    return ratios


def missed_targets(ratios: Dict[str, Dict[str, float]]) -> List[str]:
    """A line for each language where the words/s ratio to the teacher misses its target."""
    return [f"{lang}: {ratio:.3g}x the teacher's words/s, below the target of {TEACHER_TARGET:g}x"
            for lang, ratio in ratios.get("vs_teacher", {}).items() if ratio < TEACHER_TARGET]


def machine_info() -> Dict:
    """CPU, cores, memory, OS and library versions."""
    import spacy

    info = {"platform": platform.platform(), "python": platform.python_version(), "spacy": spacy.__version__,
            "cpu_count": os.cpu_count(), "cpu": platform.processor() or platform.machine()}
    for line in _read_lines("/proc/cpuinfo"):
        if line.startswith("model name"):
            info["cpu"] = line.split(":", 1)[1].strip()
            break
    for line in _read_lines("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            info["memory_bytes"] = int(line.split()[1]) * 1024
            break
    return info


def _read_lines(path: str) -> List[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:
        return []


def print_results(bench: Dict, students: Sequence[str]) -> None:
    languages = bench["languages"]
    rows = []
    for name, model in bench["models"].items():
        wps = model["words_per_second"]
        rows.append([name, *(f"{wps[lang]:,.0f}" for lang in languages), f"{statistics.mean(wps.values()):,.0f}",
                     model["batch_size"]])
    msg.table(rows, header=["words/s", *languages, "mean", "batch"], divider=True)
    # The bare tokenizer is the first student's: the other students' ratios to it are left out.
    for name in [s for s in bench["models"] if s.startswith("student")]:
        ratios = speed_ratios(bench["models"], name, languages)
        for key, ratio in ratios.items():
            if key == "vs_teacher" or name == students[0]:
                cells = " ".join(f"{lang} {ratio[lang]:.3g}" for lang in languages)
                msg.text(f"{name} {key.replace('_', ' ')} (words/s ratio): {cells}")
    models = bench["models"]
    if TEACHER in models and TOKENIZER in models:
        cells = " ".join(f"{lang} {models[TOKENIZER]['words_per_second'][lang] / models[TEACHER]['words_per_second'][lang]:.3g}"
                         for lang in languages)
        msg.text(f"bare tokenizer vs teacher (words/s ratio, the ceiling of any pipeline on it): {cells}")
    for student in students:
        missed = missed_targets(speed_ratios(models, student, languages))
        for line in missed:
            msg.warn(f"{student} misses the speed target in {line}")
        if not missed:
            msg.good(f"{student} runs at {TEACHER_TARGET:g}x the teacher's words/s or more in every language")


@app.command("run")
def run_cli(
    languages: List[str] = typer.Argument(...),
    training_dir: Path = typer.Option(Path("training"), help="Holds teacher/model-best and {model}/{lang}/model-best"),
    splits_dir: Path = typer.Option(Path("corpus/splits"), help="Holds {lang}/test.spacy"),
    output: Path = typer.Option(Path("metrics/benchmark.json")),
    students: str = typer.Option(..., help="Space-separated students of `all`; the first one's bare tokenizer is timed"),
    n_docs: int = typer.Option(1000, min=1, help="Test texts per language (the first N)"),
    batch_size: int = typer.Option(128, min=1, help="nlp.pipe batch size of the spaCy students and baselines"),
    teacher_batch_size: int = typer.Option(64, min=1, help="nlp.pipe batch size of the teacher"),
    repeats: int = typer.Option(5, min=1, help="Timed passes per language at least (students, tokenizer)"),
    teacher_repeats: int = typer.Option(1, min=1, help="Timed passes per language at least (teacher)"),
    warmup: int = typer.Option(100, min=0, help="Texts of the warm-up pass"),
    min_seconds: float = typer.Option(3.0, min=0.0, help="Time more passes until this many seconds have been timed"),
    teacher_code: Path = typer.Option(HERE / "teacher_functions.py", help="The teacher's registered functions"),
    student_code: Path = typer.Option(HERE / "textcat_distill.py", help="The students' component"),
    unlabeled: str = typer.Option("", help="Space-separated languages left out: they have no baseline, and their "
                                  "students are the models of their language that the others' are"),
):
    """Benchmark the teacher, the students and baselines and the bare tokenizers; write OUTPUT."""
    if unlabeled.split():
        msg.info(f"Not benchmarking the unlabeled languages ({unlabeled}): they have no baseline")
        languages = [lang for lang in languages if lang not in unlabeled.split()]
    students = students.split()
    if not students or not all(name.startswith("student") for name in students):
        msg.fail(f"--students must name one or more students (student_...), not {' '.join(students)!r}", exits=1)
    teacher_path = training_dir / TEACHER / "model-best"
    specs = [ModelSpec(TEACHER, {lang: teacher_path for lang in languages}, True, teacher_code,
                       teacher_batch_size, teacher_repeats)]
    ablations = [name for name in ABLATIONS if name not in students and (training_dir / name).is_dir()]
    for name in (BASELINE, *students, *ablations):
        code = student_code if name.startswith("student") else None
        specs.append(ModelSpec(name, {lang: training_dir / name / lang / "model-best" for lang in languages},
                               False, code, batch_size, repeats))
    specs.append(ModelSpec(TOKENIZER, {lang: training_dir / students[0] / lang / "model-best" for lang in languages},
                           False, student_code, batch_size, repeats, tokenizer_only=True, timed_with=students[0]))
    specs.append(ModelSpec(WORD_TOKENIZER, {lang: None for lang in languages}, False, None, batch_size, repeats))
    try:
        texts = {lang: read_texts(splits_dir / lang / "test.spacy", n_docs) for lang in languages}
        bench = benchmark_models(specs, texts, warmup, min_seconds)
    except (MissingInput, ValueError, RuntimeError) as err:
        msg.fail(str(err), exits=1)
    bench["students"] = students
    with atomic_path(output) as tmp:
        tmp.write_text(json.dumps(bench, indent=2) + "\n", encoding="utf8")
    print_results(bench, students)
    msg.good(f"Benchmark in {output}")


if __name__ == "__main__":
    app()
