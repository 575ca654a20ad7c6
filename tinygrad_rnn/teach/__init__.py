"""Teaching tools, on top of the engine, nn, optim and the pictures in viz/.

    tour.py            the checks behind `tinygrad-rnn gradcheck` (every op vs central differences)
    vanishing.py       the vanishing/exploding-gradient experiments behind `tinygrad-rnn vanishing`
    vanishing_view.py  their tables and heat strips
    graph_view.py      the graphs behind `tinygrad-rnn graph` (an expression or a cell step)
    expression.py      the safe parser for `graph`'s expressions
"""
