"""Bayesian logistic regression on UCI Ionosphere in NumPy: the built-in `ionosphere` target written in Python.

    dsampler train target=python:Targets/python/logistic.py:log_density objective=pis

351 radar returns, 34 features standardised (a constant column only centred), an intercept first, N(0, I) prior with
its constants; P(good) = σ(xᵀw). d = 35. The reference log Z is −110.79 (BENCHMARK-TASKS.md §3.3), not known exactly.
"""
import os
import numpy as np

_data = np.loadtxt(os.path.join(os.path.dirname(__file__), "..", "reference", "ionosphere.csv"), delimiter=",", comments="#")
_features, LABELS = _data[:, :-1], _data[:, -1]
_std = _features.std(axis=0)
_standardised = (_features - _features.mean(axis=0)) / np.where(_std > 0, _std, 1.0)
FEATURES = np.hstack([np.ones((len(_standardised), 1)), _standardised])  # (351, 35)
DIMENSION = FEATURES.shape[1]


def log_density(w):
    """log R(w) = Σᵢ yᵢ log σ(sᵢ) + (1 − yᵢ) log σ(−sᵢ) + log N(w; 0, I), s = X wᵀ; returns (log R, ∇log R)."""
    s = w @ FEATURES.T                                            # (n, 351)
    log_likelihood = np.sum(LABELS * -np.logaddexp(0.0, -s) + (1 - LABELS) * -np.logaddexp(0.0, s), axis=1)
    log_prior = -0.5 * np.sum(w * w, axis=1) - 0.5 * DIMENSION * np.log(2 * np.pi)
    residual = LABELS - 1.0 / (1.0 + np.exp(-s))                  # y − σ(s)
    return log_likelihood + log_prior, residual @ FEATURES - w
