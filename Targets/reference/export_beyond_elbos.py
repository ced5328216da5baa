"""Writes the data files of the Beyond-ELBOs tasks in this folder (run once; the CSVs are committed).

Usage: python export_beyond_elbos.py DEB_ROOT MIXTURE_JSON OUT_DIR, where DEB_ROOT holds Debian's r-cran-caret
6.0-93 and r-cran-mlbench 2.1-3 unpacked with `dpkg -x` (`apt-get download r-cran-caret r-cran-mlbench`), and
MIXTURE_JSON is ../shared/data/beyond-elbos-mixture-params.json. Needs the PyPI packages `rdata` (1.1.0) and
`scikit-learn` (1.9.1). Every file starts with a `#` line naming its columns.
"""
import sys, os
import numpy as np
import rdata

root, mixtures, out = sys.argv[1], sys.argv[2], sys.argv[3]
lib = os.path.join(root, "usr/lib/R/site-library")

def level(df, prefix, names):
    """The 0-based position, in `names`, of the one-hot column prefix.NAME that is set in each row."""
    cols = np.stack([df[f"{prefix}.{n}"].to_numpy(dtype=float) for n in names], axis=1)
    assert np.all(cols.sum(axis=1) == 1), prefix
    return cols.argmax(axis=1)

def write(name, header, rows, fmt):
    with open(os.path.join(out, name), "w") as f:
        f.write("# " + ",".join(header) + "\n")
        for r in rows:
            f.write(",".join(fmt(v) for v in r) + "\n")

# German credit: the 24 numeric attributes of UCI's german.data-numeric and its label (1 good, 2 bad), mapped
# from caret's dummy-coded GermanCredit as in BENCHMARK-TASKS.md §1.11.
g = rdata.read_rda(os.path.join(lib, "caret/data/GermanCredit.RData"))["GermanCredit"]
n = len(g)
c = np.zeros((n, 25))
c[:, 0] = level(g, "CheckingAccountStatus", ["lt.0", "0.to.200", "gt.200", "none"]) + 1
c[:, 1] = g["Duration"].to_numpy(dtype=float)
c[:, 2] = level(g, "CreditHistory", ["NoCredit.AllPaid", "ThisBank.AllPaid", "PaidDuly", "Delay", "Critical"])
c[:, 3] = np.round(g["Amount"].to_numpy(dtype=float) / 100)  # numpy rounds half to even
c[:, 4] = level(g, "SavingsAccountBonds", ["lt.100", "100.to.500", "500.to.1000", "gt.1000", "Unknown"]) + 1
c[:, 5] = np.array([2, 3, 4, 5, 1])[level(g, "EmploymentDuration", ["lt.1", "1.to.4", "4.to.7", "gt.7", "Unemployed"])]
c[:, 6] = level(g, "Personal", ["Male.Divorced.Seperated", "Female.NotSingle", "Male.Single", "Male.Married.Widowed",
                                "Female.Single"]) + 1
c[:, 7] = g["ResidenceDuration"].to_numpy(dtype=float)
c[:, 8] = level(g, "Property", ["RealEstate", "Insurance", "CarOther", "Unknown"]) + 1
c[:, 9] = g["Age"].to_numpy(dtype=float)
c[:, 10] = level(g, "OtherInstallmentPlans", ["Bank", "Stores", "None"]) + 1
c[:, 11] = g["NumberExistingCredits"].to_numpy(dtype=float)
c[:, 12] = g["NumberPeopleMaintenance"].to_numpy(dtype=float)
c[:, 13] = 2 - g["Telephone"].to_numpy(dtype=float)
c[:, 14] = 2 - g["ForeignWorker"].to_numpy(dtype=float)
for k, col in enumerate(["Purpose.NewCar", "Purpose.UsedCar", "OtherDebtorsGuarantors.None",
                         "OtherDebtorsGuarantors.CoApplicant", "Housing.Rent", "Housing.Own", "Job.UnemployedUnskilled",
                         "Job.UnskilledResident", "Job.SkilledEmployee"]):
    c[:, 15 + k] = g[col].to_numpy(dtype=float)
c[:, 24] = np.where(np.asarray(g["Class"]) == "Good", 1, 2)
write("german-credit.csv", [f"a{k + 1}" for k in range(24)] + ["label"], c, lambda v: str(int(v)))

# Ionosphere and Sonar (mlbench): features as stored, then the label 1 ("good" / "R") or 0.
for name, positive in [("Ionosphere", "good"), ("Sonar", "R")]:
    d = rdata.read_rda(os.path.join(lib, f"mlbench/data/{name}.rda"))[name]
    features = np.stack([d[col].astype(float).to_numpy() for col in d.columns[:-1]], axis=1)
    label = (np.asarray(d["Class"]) == positive).astype(int)
    write(f"{name.lower()}.csv", [f"x{k + 1}" for k in range(features.shape[1])] + ["label"],
          np.column_stack([features, label]), lambda v: repr(float(v)) if v != int(v) else str(int(v)))

# WDBC (scikit-learn's copy of the UCI file): 30 features, label 0 malignant / 1 benign.
from sklearn.datasets import load_breast_cancer
b = load_breast_cancer()
write("wdbc.csv", [f"x{k + 1}" for k in range(30)] + ["label"], np.column_stack([b.data, b.target]),
      lambda v: repr(float(v)) if v != int(v) else str(int(v)))

# Mixture means and Student-t locations (JAX 0.4.28 uniform draws from PRNGKey(0), dumped in the side file).
import json
with open(mixtures) as f:
    params = json.load(f)
for key, file in [("gmm40_2d_means", "gmm40-unit-2d-means.csv"), ("gmm40_50d_means", "gmm40-unit-50d-means.csv"),
                  ("mos10_2d_locs", "mos10-2d-locs.csv"), ("mos10_50d_locs", "mos10-50d-locs.csv")]:
    with open(os.path.join(out, file), "w") as f:
        f.write("# %s of BENCHMARK-TASKS.md (jax 0.4.28, PRNGKey(0)), one component per row\n" % key)
        for row in params[key]:
            f.write(",".join(repr(float(v)) for v in row) + "\n")
