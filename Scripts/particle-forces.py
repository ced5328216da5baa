#!/usr/bin/env python3
"""Per-particle force norms |∇ᵢE| of a Lennard-Jones reference set, against candidate iDEM score clips.

iDEM clips its Monte-Carlo score per particle; near t = 0 that estimate is the exact score −∇E, so the share of
reference particles whose force exceeds the clip is the share of the regression target that the clip bends at
equilibrium. Usage: Scripts/particle-forces.py lj13|lj55 [rows] [clip ...]   (defaults: 1000 rows; clips 20 50 100)
The energy is the toolkit's: Σ over ordered pairs of r⁻¹² − 2r⁻⁶ with r² softened by 1e-6, plus ½Σ‖xᵢ − x̄‖².
"""
import sys
from pathlib import Path

import h5py
import numpy as np

PARTICLES = {"lj13": 13, "lj55": 55}


def forces(x):
    """∇E per particle for rows x of shape (batch, n, 3)."""
    n = x.shape[1]
    delta = x[:, :, None, :] - x[:, None, :, :]
    r2 = (delta ** 2).sum(-1) + 1e-6
    r2[:, np.eye(n, dtype=bool)] = np.inf
    inv6 = r2 ** -3
    # d/dr² of (r⁻¹² − 2r⁻⁶) is −6r⁻¹⁴ + 6r⁻⁸; each unordered pair appears twice in the ordered sum.
    pair = 2 * (-6 * inv6 ** 2 + 6 * inv6) / r2
    lj = (2 * pair[..., None] * delta).sum(2)
    return lj + (x - x.mean(1, keepdims=True))


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in PARTICLES:
        sys.exit("usage: Scripts/particle-forces.py lj13|lj55 [rows] [clip ...]")
    name = sys.argv[1]
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    clips = [float(c) for c in sys.argv[3:]] or [20.0, 50.0, 100.0]
    path = Path(__file__).resolve().parent.parent / "Targets" / "reference" / f"{name}.h5"
    with h5py.File(path, "r") as f:
        x = np.asarray(f["test"][:rows], dtype=np.float64).reshape(-1, PARTICLES[name], 3)
    norms = np.linalg.norm(forces(x), axis=-1).ravel()
    q = np.percentile(norms, [10, 50, 90, 99])
    print(f"{name}: {len(x)} test rows, per-particle |grad E| quantiles 10/50/90/99 %: "
          + " / ".join(f"{v:.1f}" for v in q))
    for c in clips:
        print(f"  clip {c:g}: {100 * (norms > c).mean():.1f} % of particles above")


if __name__ == "__main__":
    main()
