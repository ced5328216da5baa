#!/usr/bin/env python3
"""An independent log Z check for a run: importance sampling from a multivariate t fitted to the run's samples.

    Scripts/is-check.py RUN.h5 FILE.py:FUNC [--draws N] [--scale S] [--seed K]

FUNC is a Python energy as dsampler reads it (`target=python:FILE.py:FUNC`: log R of an n × d float64 array, or
(log R, ∇log R)), for the run's target. The proposal is a multivariate t (ν = 5) with the samples' mean and S² times
their covariance; log Ẑ = log mean exp(log R − log q) over N draws (unbiased in Z). It prints log Ẑ, the ESS fraction,
the spread of log Ẑ over ten blocks of draws, and the self-normalised posterior mean of −log R beside the run samples'
mean (a check that the samples and the reweighted proposal describe the same law). The estimate is trustworthy only
while it is stable under other scales S and the ESS is not tiny: a proposal that misses mass reads low.
"""
import argparse
import importlib.util
import math
import os

import h5py
import numpy as np

NU = 5.0


def log_mean_exp(values):
    top = np.max(values)
    return float(top + np.log(np.mean(np.exp(values - top))))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="a dsampler run file with /samples")
    parser.add_argument("target", help="FILE.py:FUNC, the run's target in Python")
    parser.add_argument("--draws", type=int, default=400_000)
    parser.add_argument("--scale", type=float, default=1.0, help="proposal scale relative to the samples' spread")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    file, function = args.target.rsplit(":", 1)
    spec = importlib.util.spec_from_file_location(os.path.splitext(os.path.basename(file))[0], file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    energy = getattr(module, function)

    def log_r(x):
        out = energy(x)
        return out[0] if isinstance(out, tuple) else out

    samples = np.asarray(h5py.File(args.run, "r")["samples"], dtype=np.float64)
    n, d = samples.shape
    mean = samples.mean(axis=0)
    factor = np.linalg.cholesky(np.cov(samples.T) * args.scale ** 2)
    log_det = 2 * float(np.sum(np.log(np.diag(factor))))
    constant = math.lgamma((NU + d) / 2) - math.lgamma(NU / 2) - 0.5 * d * math.log(NU * math.pi) - 0.5 * log_det

    def log_q(y):
        z = np.linalg.solve(factor, (y - mean).T).T
        return constant - 0.5 * (NU + d) * np.log1p(np.sum(z * z, axis=1) / NU)

    rng = np.random.default_rng(args.seed)
    log_w, energies = [], []
    for start in range(0, args.draws, 20_000):
        k = min(20_000, args.draws - start)
        y = mean + (rng.standard_normal((k, d)) @ factor.T) * np.sqrt(NU / rng.chisquare(NU, k))[:, None]
        r = log_r(y)
        log_w.append(r - log_q(y))
        energies.append(-r)
    log_w, energies = np.concatenate(log_w), np.concatenate(energies)
    w = np.exp(log_w - log_w.max())
    ess = w.sum() ** 2 / np.sum(w * w) / len(w)
    blocks = [log_mean_exp(b) for b in np.array_split(log_w, 10)]
    own = -log_r(samples)
    print(f"log Z {log_mean_exp(log_w):.4f}  ESS fraction {ess:.4f}  draws {len(w)}  block std {np.std(blocks):.4f}  "
          f"E[-log R]: reweighted {np.sum(w * energies) / w.sum():.3f}, run samples {own.mean():.3f} "
          f"(standard error {own.std() / math.sqrt(n):.3f})")


if __name__ == "__main__":
    main()
