"""Reference answer to exercise 10 (also what course.check_backward must accept)."""

import numpy as np


def lstm_cell_backward(da_next, dc_next, cache):
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters = cache
    n_a = a_next.shape[0]
    dot = da_next * np.tanh(c_next) * ot * (1 - ot)
    dc = dc_next + da_next * ot * (1 - np.tanh(c_next) ** 2)
    dcct = dc * it * (1 - cct ** 2)
    dit = dc * cct * it * (1 - it)
    dft = dc * c_prev * ft * (1 - ft)
    concat = np.concatenate([a_prev, xt], axis=0)
    dWf, dWi, dWc, dWo = (d @ concat.T for d in (dft, dit, dcct, dot))
    dbf, dbi, dbc, dbo = (np.sum(d, axis=1, keepdims=True) for d in (dft, dit, dcct, dot))
    dconcat = sum(parameters[w].T @ d for w, d in (("Wf", dft), ("Wi", dit), ("Wc", dcct),
                                                   ("Wo", dot)))
    return {"dxt": dconcat[n_a:], "da_prev": dconcat[:n_a], "dc_prev": dc * ft,
            "dWf": dWf, "dWi": dWi, "dWc": dWc, "dWo": dWo,
            "dbf": dbf, "dbi": dbi, "dbc": dbc, "dbo": dbo}
