"""The `benchmark-scoring` command: a built package's `python -m {package} score` on CSV files of
growing length, its rows/s and peak memory, against `nlp.pipe` in a loop over the same file.

Each row is a pool review with a word of its own appended, so that every row brings the
vocabulary new strings (the worst case for memory). Each run is a fresh process, whose peak
resident memory comes from os.wait4. Writes metrics/scoring_benchmark.json."""
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from wasabi import msg

from .errors import DataError, MissingInput
from .files import write_json

# The plain way to score a file: read it row by row, nlp.pipe over the texts, write the rows.
PIPE_LOOP = """
import csv, sys, spacy
nlp = spacy.load(sys.argv[1])
with open(sys.argv[2], newline="", encoding="utf8") as f, open(sys.argv[3], "w", newline="", encoding="utf8") as out:
    rows = csv.DictReader(f)
    writer = csv.writer(out)
    labels = list(nlp.get_pipe("textcat").labels)
    for doc in nlp.pipe(row["text"] for row in rows):
        writer.writerow([max(labels, key=doc.cats.get)] + [round(doc.cats[label], 6) for label in labels])
"""


def write_rows(path: Path, texts: List[str], n_rows: int) -> None:
    """A CSV of n_rows rows (id, text): the texts in turn, each with the word w{id} appended."""
    with path.open("w", newline="", encoding="utf8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        for i in range(n_rows):
            writer.writerow([i, f"{texts[i % len(texts)]} w{i}"])


def run_measured(command: List[str], env: Dict[str, str]) -> Dict:
    """Run command; RETURNS its wall seconds and peak resident memory."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise DataError(f"{' '.join(command)} failed:\n{stderr.decode(errors='replace')[-2000:]}")
    return {"seconds": seconds, "peak_rss_bytes": usage.ru_maxrss * 1024}


def benchmark_scoring(package_dir: Path, pool_path: Path, output: Path, sizes: List[int]) -> Dict:
    """Time and measure the package in package_dir (packages/{lang}_{name}-{version}) on pool_path's
    texts; write and RETURN the figures."""
    packages = [path for path in package_dir.glob("*_*") if (path / "__init__.py").is_file()]
    if len(packages) != 1:
        raise MissingInput(f"No built package in {package_dir}: run `spacy project run package` first")
    package = packages[0].name
    if not pool_path.is_file():
        raise MissingInput(f"Missing {pool_path}: run `spacy project run preprocess` first")
    with pool_path.open(encoding="utf8") as f:
        texts = [json.loads(line)["text"] for line in f]
    env = {**os.environ, "PYTHONPATH": str(package_dir)}
    results = {"package": package, "texts": str(pool_path), "rows": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for n_rows in sizes:
            rows = Path(tmp) / "rows.csv"
            write_rows(rows, texts, n_rows)
            score = run_measured([sys.executable, "-m", package, "score", str(rows), "-o", str(Path(tmp) / "out.csv")], env)
            pipe = run_measured([sys.executable, "-c", PIPE_LOOP, package, str(rows), str(Path(tmp) / "pipe.csv")], env)
            results["rows"][n_rows] = {
                name: {**run, "rows_per_second": n_rows / run["seconds"]} for name, run in (("score", score), ("pipe_loop", pipe))
            }
            msg.info(f"{n_rows:,} rows: score {n_rows / score['seconds']:,.0f} rows/s, peak "
                     f"{score['peak_rss_bytes'] / 2**20:,.0f} MiB; nlp.pipe loop {n_rows / pipe['seconds']:,.0f} rows/s, "
                     f"peak {pipe['peak_rss_bytes'] / 2**20:,.0f} MiB")
    write_json(output, results)
    return results
