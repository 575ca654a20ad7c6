"""Teaching tools, on top of the engine, nn, optim and the pictures in viz/.

    tour.py            the checks behind `tinygrad-rnn gradcheck` (every op vs central differences)
    vanishing.py       the vanishing/exploding-gradient experiments behind `tinygrad-rnn vanishing`
    vanishing_view.py  their tables and heat strips
    graph_view.py      the graphs behind `tinygrad-rnn graph` (an expression or a cell step)
    expression.py      the safe parser for `graph`'s expressions
    grading.py         one comparison that passes or names the kind of wrong (exercises, course)
    learn/             `tinygrad-rnn learn`: the exercise path, its stubs, hints and grader
    course/            the course's week-1 functions in its layout; check_backward
                       (also importable as tinygrad_rnn.course)
"""
