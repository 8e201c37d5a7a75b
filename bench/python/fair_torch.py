"""PyTorch with a fair thread setting for the benchmarks: import this module before torch.

Debian's torch runs its matrix products in OpenBLAS's own thread pool, which `torch.set_num_threads`
does not limit; with both pools at 2 threads on a 2-core machine the cores are oversubscribed and
"2 threads" runs slower than 1. `limit_threads(n)` sets both pools to n threads, and the module sets
OMP_WAIT_POLICY=PASSIVE before torch loads (OpenMP reads it once, at start-up) so that idle OpenMP
workers sleep instead of spinning against OpenBLAS's. The benchmarks run 1 and 2 threads and report
the faster (docs/benchmarks.md, "Methods").
"""
import ctypes
import os

os.environ['OMP_WAIT_POLICY'] = 'PASSIVE'

import torch  # noqa: E402


def _openblas():
    try:
        return ctypes.CDLL('libopenblas.so.0')
    except OSError:
        return None


def limit_threads(n):
    """Limits torch's OpenMP pool and OpenBLAS's pool to n threads; returns what each reports."""
    torch.set_num_threads(n)
    blas = _openblas()
    if blas is not None:
        blas.openblas_set_num_threads(n)
    return {
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'openblasThreads': blas.openblas_get_num_threads() if blas is not None else None,
        'ompWaitPolicy': os.environ.get('OMP_WAIT_POLICY'),
    }


def peak_rss_mb():
    """Peak resident memory of this process (ru_maxrss, KiB on Linux) in MiB."""
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
