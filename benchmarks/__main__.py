"""`python -m benchmarks`: pin every BLAS to one thread, then run (see benchmarks/run.py).

    python -m benchmarks --quick
"""

import os
import sys

# Before numpy (or torch) is imported: one BLAS thread for every contender.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[variable] = "1"

from benchmarks.run import main  # noqa: E402  (after the thread settings, on purpose)

sys.exit(main())
