"""review_distill/device.py: a step asked for a GPU it cannot use stops before it starts, saying what
to install; the CPU and a usable GPU pass. Runs without a GPU: CuPy and torch's view of CUDA are
stood in for."""
import importlib.util
import types

import pytest
import torch

from review_distill import device
from review_distill.device import DeviceError, check_device
from util import ROOT, invoke_script, write_inputs


@pytest.fixture
def gpus(monkeypatch):
    """set(cupy=bool, cuda=n): whether CuPy is installed and how many GPUs torch sees."""
    def set_gpus(cupy: bool, cuda: int):
        real = importlib.util.find_spec
        monkeypatch.setattr(device.importlib.util, "find_spec",
                            lambda name, *args: (types.SimpleNamespace() if cupy else None) if name == "cupy" else real(name, *args))
        monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: cuda)
    return set_gpus


def test_the_cpu_needs_nothing(gpus):
    gpus(cupy=False, cuda=0)
    check_device(-1)


@pytest.mark.parametrize("cupy, cuda, gpu_id, message", [
    (False, 1, 0, "gpu_id 0 asks for a GPU, but CuPy, which spaCy runs on it with, is not installed: install a CUDA build"),
    (True, 0, 0, f"gpu_id 0 asks for a GPU, but torch {torch.__version__} sees none (a CPU-only build, or no CUDA driver)"),
    (True, 1, 1, "gpu_id 1: torch sees 1 GPU(s), numbered from 0"),
    (True, 1, -2, "gpu_id -2: use -1 for the CPU"),
])
def test_a_gpu_that_cannot_be_used_is_refused_with_what_to_do(gpus, cupy, cuda, gpu_id, message):
    gpus(cupy=cupy, cuda=cuda)
    with pytest.raises(DeviceError) as error:
        check_device(gpu_id)
    assert str(error.value).startswith(message)
    if gpu_id == 0:
        assert "pip install cupy-cuda12x" in str(error.value) and "set gpu_id to -1" in str(error.value)


def test_a_usable_gpu_passes(gpus):
    gpus(cupy=True, cuda=2)
    check_device(0)
    check_device(1)


@pytest.mark.parametrize("script, args", [
    ("label", lambda root: ["no_teacher", "en", "--corpus-dir", root / "splits", "--augmented-dir", root / "augmented",
                            "--shard-dir", root / "labels", "--soft-dir", root / "soft", "--hard-dir", root / "hard"]),
    ("teacher_train", lambda root: [ROOT / "configs" / "teacher.cfg", root / "teacher", root / "test.json", "en",
                                    "--dev-metrics", root / "dev.json", "--code", ROOT / "review_distill" / "teacher_functions.py",
                                    "--transformer", "assets/teacher_model"]),
])
def test_a_step_on_a_gpu_it_cannot_use_stops_first(tmp_path, gpus, script, args):
    """The steps stop with the message, not a traceback, and before loading or writing anything."""
    gpus(cupy=False, cuda=0)
    write_inputs(tmp_path)
    status, output = invoke_script(script, *args(tmp_path), "--gpu-id", "0")
    assert status == 1 and "gpu_id 0 asks for a GPU, but CuPy" in output, output
    assert not (tmp_path / "teacher").exists() and not (tmp_path / "labels").exists()
