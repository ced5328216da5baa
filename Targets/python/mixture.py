"""The gmm25 target written in NumPy: 25 equal-weight Gaussians on the grid {-10, -5, 0, 5, 10}², covariance 0.3·I.

    dsampler train target=Targets/python/gmm25-numpy.yaml objective=tb exploration=0.5

`log_density(x)` takes an n × 2 float64 array and returns (log R, ∇log R); log Z = 0 (a normalised density).

It repeats the built-in gmm25's arithmetic step for step — differences x − μ in float32, sums in index order (cumsum),
glibc's exp and log (through `math`; NumPy's own differ from them in the last bit about a quarter of the time) — so
that it returns the same bits and the same seed trains the same sampler. A plain NumPy version agrees to about 1e-7,
but training amplifies last-bit differences: after 5000 TB iterations its log Z estimate differed by 0.06.
"""
import math
import numpy as np

DIMENSION = 2
LOG_Z = 0.0

_grid = np.array([-10.0, -5.0, 0.0, 5.0, 10.0], dtype=np.float32)
MEANS = np.array([[a, b] for a in _grid for b in _grid], dtype=np.float32)   # (25, 2)
_std = float(np.sqrt(np.float32(0.3)))                                       # the component std, rounded to float32
INV_VAR = 1.0 / (_std * _std)
LOG_NORM = -0.5 * DIMENSION * math.log(2 * math.pi / INV_VAR)
LOG_WEIGHT = math.log(1.0 / len(MEANS))
_exp = np.frompyfunc(math.exp, 1, 1)


def log_density(x):
    x32 = x.astype(np.float32)
    diff = (x32[:, None, :] - MEANS[None, :, :]).astype(np.float64)         # (n, 25, 2), x − μ in float32
    squared = diff[:, :, 0] * diff[:, :, 0] + diff[:, :, 1] * diff[:, :, 1]
    logits = LOG_WEIGHT - 0.5 * squared * INV_VAR                             # (n, 25)
    top = logits.max(axis=1)
    weights = _exp(logits - top[:, None]).astype(np.float64)
    total = np.cumsum(weights, axis=1)[:, -1]
    log_r = top + np.array([math.log(t) for t in total]) + LOG_NORM
    toward = (MEANS[None, :, :] - x32[:, None, :]).astype(np.float64)        # μ − x in float32
    grad = np.cumsum(weights[:, :, None] * toward, axis=1)[:, -1, :] / total[:, None] * INV_VAR
    return log_r, grad


def log_density_numpy(x):
    """The same density in plain NumPy (float64 throughout, NumPy's exp): equal to about 1e-7, and the faster form."""
    diff = x[:, None, :] - MEANS[None, :, :].astype(np.float64)
    logits = LOG_WEIGHT - 0.5 * np.einsum("nkd,nkd->nk", diff, diff) * INV_VAR
    top = logits.max(axis=1, keepdims=True)
    weights = np.exp(logits - top)
    total = weights.sum(axis=1, keepdims=True)
    return (top + np.log(total))[:, 0] + LOG_NORM, -np.einsum("nk,nkd->nd", weights / total, diff) * INV_VAR
