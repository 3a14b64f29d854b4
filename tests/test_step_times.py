"""scripts/step.py: each step's wall time and peak memory, logged as the workflow runs it."""
import json
import subprocess
import sys

import srsly

from review_distill.step_times import step_table
from util import ROOT, invoke_script

ALLOCATE = "import sys; block = bytearray(300 * 2**20); block[::4096] = b'x' * len(block[::4096]); sys.exit({code})"


def test_a_step_is_logged_with_its_peak_memory_and_exit_status(tmp_path):
    log = tmp_path / "steps.jsonl"
    for name, code in (("big", 3), ("small", 0)):
        command = ALLOCATE.format(code=code) if name == "big" else "pass"
        run = [sys.executable, str(ROOT / "scripts" / "step.py"), "run", name, "--log", str(log), "--", "python", "-c", command]
        assert subprocess.run(run).returncode == code
    big, small = [json.loads(line) for line in log.read_text().splitlines()]
    assert (big["step"], big["returncode"], small["returncode"]) == ("big", 3, 0)
    assert big["peak_rss_bytes"] > 300 * 2**20 > small["peak_rss_bytes"]
    assert big["seconds"] >= 0


def test_the_table_keeps_each_steps_latest_successful_run(tmp_path):
    log = tmp_path / "steps.jsonl"
    records = [
        {"step": "data", "seconds": 5.0, "returncode": 0},
        {"step": "train", "seconds": 60.0, "returncode": 0},
        {"step": "data", "seconds": 7.0, "returncode": 0},
        {"step": "train", "seconds": 1.0, "returncode": 1},
    ]
    log.write_text("".join(json.dumps({"command": "", "started": "", "peak_rss_bytes": 2**30, **r}) + "\n" for r in records))
    assert [(r["step"], r["seconds"]) for r in step_table(log)] == [("train", 60.0), ("data", 7.0)]
    code, output = invoke_script("step", "table", log, "--output", tmp_path / "steps.md")
    assert code == 0
    table = (tmp_path / "steps.md").read_text()
    assert "| train | 1:00 | 1.0 |" in table and "| all | 1:07 | 1.0 |" in table


def test_the_wrapper_passes_on_the_steps_exit_status(tmp_path):
    code, _ = invoke_script("step", "run", "failing", "--log", tmp_path / "steps.jsonl", "--", "python", "-c", "import sys; sys.exit(2)")
    assert code == 2
    code, output = invoke_script("step", "table", tmp_path / "missing.jsonl")
    assert code == 1 and "No step times" in output


def test_every_command_of_the_project_is_timed():
    project = srsly.read_yaml(ROOT / "project.yml")
    for command in project["commands"]:
        lines = [line for line in command["script"] if "scripts/step.py table" not in line]
        assert all(line.startswith(f"python scripts/step.py run {command['name']} -- ") for line in lines), command["name"]
