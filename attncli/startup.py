"""What an attncli process sets up before numpy loads, once: importing this module is the set-up.

attncli runs its own threads over blocks of queries (--threads); a multi-threaded BLAS under each of them would
oversubscribe the cores, so each BLAS gets one thread (an explicit setting in the environment wins). And OpenBLAS
picks its kernels when numpy loads: where a faster core type was measured for this CPU, attncli.blas sets it now
(the user's OPENBLAS_CORETYPE or ATTNCLI_BLAS_CORETYPE wins; attncli.blas says how).

The CLI (attncli.cli) and `python -m attncli.blas` import it first; neither imports the other. Imports no numpy.
"""

from __future__ import annotations

import os

from attncli import blas

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")  # one BLAS thread under each of attncli's


def _set_up() -> blas.Decision:
    for var in THREAD_VARIABLES:
        os.environ.setdefault(var, "1")
    return blas.apply()


# The kernels chosen (an impossible ATTNCLI_BLAS_CORETYPE is in BLAS.error: the CLI reports it in main())
BLAS = _set_up()
