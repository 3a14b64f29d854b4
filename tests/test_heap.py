import platform
import subprocess
import sys

import pytest

PROBE = """
import ctypes, ctypes.util, sys
from review_distill.heap import map_large_blocks

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
if sys.argv[1] == "fixed":
    assert map_large_blocks()
libc.free(libc.malloc(4 << 20))  # a mapped block freed: glibc's own threshold rises to its size
mapped = libc.mallinfo2().hblks
block = libc.malloc(2 << 20)
print(libc.mallinfo2().hblks - mapped)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
@pytest.mark.parametrize("threshold, mapped", [("fixed", "1"), ("glibc's own", "0")])
def test_map_large_blocks_keeps_a_block_mapped_after_a_larger_one_was_freed(threshold, mapped):
    """Each in a fresh process: with the threshold fixed, a 2 MiB block after a freed 4 MiB one
    is a mapping of its own; with glibc's rising threshold it comes from the heap."""
    result = subprocess.run([sys.executable, "-c", PROBE, threshold], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == mapped
