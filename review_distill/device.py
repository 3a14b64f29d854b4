"""The device a step trains or labels on: the CPU (gpu_id -1) or a CUDA GPU, which needs a CUDA build
of torch and CuPy (docs/method.md, "On a GPU"); a step asked for a GPU it cannot use stops first."""
import importlib.util

from .errors import ProjectError

GPU_INSTALL = (
    "install a CUDA build of torch and CuPy for your CUDA version, e.g. for CUDA 12: "
    "`pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128` and "
    "`pip install cupy-cuda12x` (docs/method.md, On a GPU), or set gpu_id to -1 to run on the CPU"
)


class DeviceError(ProjectError):
    """A GPU was asked for that this machine's packages or hardware cannot give."""


def check_device(gpu_id: int) -> None:
    """Raise DeviceError unless gpu_id is -1 (the CPU) or a GPU that torch and CuPy can both use."""
    if gpu_id < -1:
        raise DeviceError(f"gpu_id {gpu_id}: use -1 for the CPU or a GPU's number, 0 or more")
    if gpu_id == -1:
        return
    if importlib.util.find_spec("cupy") is None:
        raise DeviceError(f"gpu_id {gpu_id} asks for a GPU, but CuPy, which spaCy runs on it with, is not installed: "
                          + GPU_INSTALL)
    import torch

    if not torch.cuda.is_available():
        raise DeviceError(f"gpu_id {gpu_id} asks for a GPU, but torch {torch.__version__} sees none (a CPU-only build, or "
                          "no CUDA driver): " + GPU_INSTALL)
    if gpu_id >= torch.cuda.device_count():
        raise DeviceError(f"gpu_id {gpu_id}: torch sees {torch.cuda.device_count()} GPU(s), numbered from 0")
