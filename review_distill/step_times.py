"""Each project step's wall time and peak resident memory, as the workflow ran it: run_step runs a
step's command and appends a record to a JSON-lines log; step_table reads the log back."""
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List

from .errors import MissingInput


def run_step(name: str, command: List[str], log_path: Path) -> int:
    """Run command (a leading `python` is this interpreter), append {step, command, started, seconds,
    peak_rss_bytes, returncode} to log_path, even when it fails; RETURNS its exit status."""
    if command and command[0] in ("python", "python3"):
        command = [sys.executable] + command[1:]
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.perf_counter()
    process = subprocess.Popen(command)
    try:
        _, status, usage = os.wait4(process.pid, 0)
    except KeyboardInterrupt:
        process.wait()
        raise
    record = {
        "step": name,
        "command": " ".join(command[1:]),
        "started": started,
        "seconds": round(time.perf_counter() - start, 1),
        # The step's process or the largest of the children it waited for (Linux: KiB).
        "peak_rss_bytes": usage.ru_maxrss * 1024,
        "returncode": os.waitstatus_to_exitcode(status),
    }
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf8") as file_:
        file_.write(json.dumps(record) + "\n")
    return record["returncode"]


def step_table(log_path: Path) -> List[Dict]:
    """The latest successful record of each step in log_path, in the order the steps last ran."""
    if not log_path.is_file():
        raise MissingInput(f"No step times in {log_path}: run a step of `spacy project run all` first")
    latest = {}
    with log_path.open(encoding="utf8") as file_:
        for line in file_:
            record = json.loads(line)
            if record["returncode"] == 0:
                latest.pop(record["step"], None)
                latest[record["step"]] = record
    return list(latest.values())
