"""How glibc's malloc serves the large blocks of fine-tuning.

glibc serves a block of at least its mmap threshold from a mapping of its own, which goes back to
the system when the block is freed, and smaller blocks from its heaps, which keep what is freed.
The threshold starts at 128 KiB but rises to the size of each mapped block freed (up to 32 MiB),
so the activations and gradients of a fine-tuning step, whose sizes change with every batch, soon
come from the heaps, which fragment and keep growing. Fixing the threshold keeps them mapped; at
1 MiB rather than glibc's initial 128 KiB, the many smaller blocks stay on the heaps, where they
cost no system call or page fault each time (docs/method.md, Fine-tuning).
"""
import ctypes
import ctypes.util

M_MMAP_THRESHOLD = -3


def map_large_blocks(threshold: int = 1024 * 1024) -> bool:
    """Have malloc serve every block of `threshold` bytes or more from a mapping of its own, from now
    on in this process; False where the C library is not glibc, which has no such setting."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))
