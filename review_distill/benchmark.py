"""The `benchmark` step: words/s, size on disk, load time and peak memory of the teacher, the
students and the baselines, on the same test texts in one run, next to the bare tokenizers.

Every model is credited with the words of its language's word tokenizer for the same texts.
`nlp.pipe` is timed over raw texts, tokenization included; load time and peak memory come from
a fresh process per model (review_distill.measure). Writes metrics/benchmark.json. How it
measures: docs/method.md, "Reading the report"."""
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from wasabi import msg

from . import measure
from .errors import DataError, MissingInput, ProjectError
from .files import dir_size, write_json
from .models import ABLATIONS, BASELINE, TEACHER, TOKENIZER, WORD_TOKENIZER
from .reviews import make_nlp
from .speed_target import TEACHER_TARGET, missed_targets, speed_ratios


@dataclass
class ModelSpec:
    """What to benchmark: a model directory per language (the same one for all languages if
    `multilingual`, None for the language's word tokenizer), code to import first, and how;
    `tokenizer_only`: the pipeline without its components; `timed_with`: a model benchmarked
    before it, whose speed is timed again in this model's process, in alternating passes; `n_docs`: the
    first n_docs of each language's texts only (None: all)."""

    name: str
    paths: Dict[str, Optional[Path]]
    multilingual: bool = False
    code: Optional[Path] = None
    batch_size: int = 256
    repeats: int = 5
    tokenizer_only: bool = False
    timed_with: Optional[str] = None
    n_docs: Optional[int] = None


def measure_in_subprocess(job: Dict) -> Dict:
    """measure.run_job in a fresh Python process, so that its load time and peak memory are its own."""
    with tempfile.TemporaryDirectory() as tmp:
        job_path, output_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job_path.write_text(json.dumps(job, ensure_ascii=False), encoding="utf8")
        process = subprocess.run(
            [sys.executable, "-m", measure.__name__, str(job_path), str(output_path)], capture_output=True, text=True
        )
        if process.returncode != 0 or not output_path.is_file():
            raise ProjectError(f"measuring {job['model'] or 'the word tokenizer'} failed:\n{process.stderr[-3000:]}")
        return json.loads(output_path.read_text(encoding="utf8"))


def read_docbin_texts(path: Path, n_docs: int) -> List[str]:
    """The first n_docs texts of a DocBin."""
    from spacy.tokens import DocBin
    from spacy.vocab import Vocab

    if not Path(path).is_file():
        raise MissingInput(f"Missing {path}: run `spacy project run preprocess` first")
    texts = [doc.text for doc in DocBin().from_disk(path).get_docs(Vocab())][:n_docs]
    if not texts:
        raise DataError(f"{path} holds no texts")
    return texts


def count_words(lang: str, texts: Sequence[str]) -> List[int]:
    """Tokens of the language's word tokenizer per text: the words every model is credited with."""
    nlp = make_nlp(lang)
    return [len(doc) for doc in nlp.pipe(texts)]


def check_specs(specs: Sequence[ModelSpec], languages: Sequence[str]) -> None:
    """Raise MissingInput for a model not trained, DataError for a model timed in turns with one
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
            raise DataError(f"{spec.name} can only be timed with a per-language model benchmarked before it, "
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
        spec_runs = {lang: {**run, "texts": run["texts"][:spec.n_docs], "words": run["words"][:spec.n_docs]}
                     for lang, run in runs.items()}
        if spec.multilingual:
            fields, speed, timed_with_speed = measure_multilingual(spec, job, spec_runs)
        else:
            fields, speed, timed_with_speed = measure_per_language(spec, job, spec_runs, paths)
        models[spec.name] = {
            "multilingual": spec.multilingual,
            "batch_size": spec.batch_size,
            "repeats": spec.repeats,
            "n_docs": {lang: len(run["texts"]) for lang, run in spec_runs.items()},
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


def benchmark(
    languages: Sequence[str], training_dir: Path, splits_dir: Path, output: Path, students: Sequence[str], *,
    n_docs: int, teacher_n_docs: int, batch_size: int, teacher_batch_size: int, repeats: int, teacher_repeats: int,
    warmup: int, min_seconds: float, teacher_code: Path, student_code: Path, unlabeled: Sequence[str] = (),
) -> Dict:
    """Benchmark the teacher, the students and baselines (the ablations where they have been trained)
    and the bare tokenizers on the first n_docs test texts of each language (the teacher on the first
    teacher_n_docs of those); write output."""
    if unlabeled:
        msg.info(f"Not benchmarking the unlabeled languages ({' '.join(unlabeled)}): they have no baseline")
        languages = [lang for lang in languages if lang not in unlabeled]
    students = list(students)
    if not students or not all(name.startswith("student") for name in students):
        raise DataError(f"--students must name one or more students (student_...), not {' '.join(students)!r}")
    teacher_path = training_dir / TEACHER / "model-best"
    specs = [ModelSpec(TEACHER, {lang: teacher_path for lang in languages}, True, teacher_code,
                       teacher_batch_size, teacher_repeats, n_docs=min(teacher_n_docs, n_docs))]
    ablations = [name for name in ABLATIONS if name not in students and (training_dir / name).is_dir()]
    for name in (BASELINE, *students, *ablations):
        code = student_code if name.startswith("student") else None
        specs.append(ModelSpec(name, {lang: training_dir / name / lang / "model-best" for lang in languages},
                               False, code, batch_size, repeats))
    specs.append(ModelSpec(TOKENIZER, {lang: training_dir / students[0] / lang / "model-best" for lang in languages},
                           False, student_code, batch_size, repeats, tokenizer_only=True, timed_with=students[0]))
    specs.append(ModelSpec(WORD_TOKENIZER, {lang: None for lang in languages}, False, None, batch_size, repeats))
    texts = {lang: read_docbin_texts(splits_dir / lang / "test.spacy", n_docs) for lang in languages}
    bench = benchmark_models(specs, texts, warmup, min_seconds)
    bench["students"] = students
    write_json(output, bench)
    print_results(bench, students)
    msg.good(f"Benchmark in {output}")
    return bench
