"""`python -m attncli.blas`: the BLAS kernels the attncli command runs on, here (set up as the CLI sets itself up)."""

import sys

from attncli import startup  # the CLI's set-up: its thread count and its choice of kernels

if startup.BLAS.error:
    print(f"error: {startup.BLAS.error}", file=sys.stderr)
    sys.exit(2)
import numpy  # noqa: E402, F401 - loads OpenBLAS as the CLI does

from attncli import blas  # noqa: E402

print(blas.describe_line())
