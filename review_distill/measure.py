"""What runs in the benchmark's measuring process: load one model (or a bare tokenizer), time it on
each language's texts, report its load time and the process's peak memory.

The benchmark step (review_distill.benchmark) starts a fresh process per job:
`python -m review_distill.measure JOB_PATH OUTPUT_PATH` runs the job in JOB_PATH (JSON) and writes
its result to OUTPUT_PATH."""
import json
import resource
import statistics
import sys
import time
from itertools import islice
from pathlib import Path
from typing import Dict, Sequence

import numpy
from spacy.language import Language

from .code_files import code_paths, import_code_paths
from .reviews import make_nlp


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


def measure_job(job_path: Path, output_path: Path) -> None:
    """Run the job in job_path (JSON) and write its result to output_path."""
    result = run_job(json.loads(Path(job_path).read_text(encoding="utf8")))
    Path(output_path).write_text(json.dumps(result), encoding="utf8")


if __name__ == "__main__":
    measure_job(*map(Path, sys.argv[1:]))
