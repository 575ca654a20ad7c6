"""Vanishing and exploding gradients, measured and drawn in the terminal.

    python demos/vanishing_gradients.py                    # adding problem, T = 30 (~30 s)
    python demos/vanishing_gradients.py --quick            # short sequences, a few seconds
    python demos/vanishing_gradients.py --svg vanishing.svg   # also save the picture
    python demos/vanishing_gradients.py --plain            # no colours

The same as `tinygrad-rnn vanishing`; the numbers come from tinygrad_rnn/teach/vanishing.py.
"""

import sys

from tinygrad_rnn.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["vanishing", *sys.argv[1:]]))
