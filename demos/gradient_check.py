"""The gradient-check tour: every primitive op, cell and layer against central differences.

    python demos/gradient_check.py                 # all ops pass
    python demos/gradient_check.py --break matmul  # a wrong backward: what failure looks like
    python demos/gradient_check.py --plain         # no colours
    python demos/gradient_check.py --quick         # the primitive ops only

The same as `tinygrad-rnn gradcheck`; the checks themselves live in tinygrad_rnn/teach/tour.py.
"""

import sys

from tinygrad_rnn.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["gradcheck", *sys.argv[1:]]))
