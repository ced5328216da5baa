"""The gmm25 target written in NumPy: 25 equal-weight Gaussians on the grid {-10, -5, 0, 5, 10}², covariance 0.3·I.

    dsampler train target=Targets/python/gmm25-numpy.yaml objective=tb exploration=0.5

`log_density(x)` takes an n × 2 float64 array and returns (log R, ∇log R); log Z = 0 (a normalised density).
"""
import numpy as np

DIMENSION = 2
LOG_Z = 0.0

_grid = np.array([-10.0, -5.0, 0.0, 5.0, 10.0])
MEANS = np.array([[a, b] for a in _grid for b in _grid])  # (25, 2)
VARIANCE = 0.3


def log_density(x):
    diff = x[:, None, :] - MEANS[None, :, :]                       # (n, 25, 2)
    logits = -0.5 * np.sum(diff * diff, axis=2) / VARIANCE         # (n, 25)
    top = logits.max(axis=1, keepdims=True)
    weights = np.exp(logits - top)
    total = weights.sum(axis=1, keepdims=True)
    log_r = (top + np.log(total))[:, 0] - np.log(len(MEANS)) - 0.5 * x.shape[1] * np.log(2 * np.pi * VARIANCE)
    responsibilities = weights / total                             # (n, 25)
    grad = -np.einsum("nk,nkd->nd", responsibilities, diff) / VARIANCE
    return log_r, grad
