#!/usr/bin/env python3
"""Plots of one dsampler run file (called by `dsampler plot FILE`, which also writes the density grid).

Panels, as the run allows: samples over log-density contours (2-D targets; manywell's first pair; the funnel's
(x0, x1) slice), energy and interatomic-distance histograms against the reference (particle systems), the
training curves (loss and log Z estimate against wall-clock), and the `eval_every` estimates (ELBO, log Z_IS,
EUBO against iterations, with the true log Z as a line when the target knows it).

Given a live log (RUN.jsonl, written while a run trains) instead of a run file, it plots its curves.
"""
import argparse
import json
import os

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def attr(group, name, default=None):
    value = group.attrs.get(name, default)
    return value.decode() if isinstance(value, bytes) else value


def config_value(run, key):
    for line in attr(run["config"], "yaml", "").splitlines():
        k, _, v = line.partition(": ")
        if k == key:
            return v
    return None


def samples_panel(ax, run, grid):
    samples = run["samples"][:]
    x, y, logp = grid["x"][:], grid["y"][:], grid["log_density"][:]
    levels = np.linspace(max(logp.max() - 12, logp.min()), logp.max(), 12)
    ax.contour(x, y, logp, levels=levels, cmap="viridis", linewidths=0.7)
    ax.scatter(samples[:, 0], samples[:, 1], s=2, c="crimson", alpha=0.35, label="samples")
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(y[0], y[-1])
    ax.set_xlabel("x0")
    ax.set_ylabel("x1")
    ax.set_title(f"{attr(grid, 'target')}: samples over log-density (first two coordinates)", fontsize=9)


def histogram_panel(ax, group, label):
    edges, model, reference = group["edges"][:], group["model"][:], group["reference"][:]
    widths = np.diff(edges)
    ax.stairs(reference / widths, edges, label="reference", color="black")
    ax.stairs(model / widths, edges, label="model", color="crimson")
    ax.set_xlabel(label)
    ax.set_ylabel("density")
    ax.legend(fontsize=8)


def curves_panel(ax, train):
    seconds, loss = train["seconds"][:], train["loss"][:]
    ax.plot(seconds, loss, color="tab:blue")
    ax.set_xlabel("training seconds")
    ax.set_ylabel("loss", color="tab:blue")
    ax.set_yscale("symlog")
    if "log_z" in train:
        twin = ax.twinx()
        twin.plot(seconds, train["log_z"][:], color="tab:orange")
        twin.set_ylabel("log Z estimate", color="tab:orange")
    ax.set_title("training", fontsize=9)


def estimates_panel(ax, evaluation):
    iteration = evaluation["iteration"][:]
    for key, label in [("elbo", "ELBO"), ("log_z_is", "log Z (importance-weighted)"), ("eubo", "EUBO"), ("w2", "W2")]:
        if key in evaluation:
            ax.plot(iteration, evaluation[key][:], marker=".", label=label)
    if "log_z_true" in evaluation:
        ax.axhline(float(evaluation["log_z_true"][:][-1]), color="black", linestyle="--", linewidth=1, label="true log Z")
    ax.set_xlabel("iteration")
    ax.set_title("evaluation during training (eval_every)", fontsize=9)
    ax.legend(fontsize=8)


def live_log(path):
    """The curves of a RUN.jsonl as dicts of arrays (train, eval), and its header. A last line without its newline
    is one the run is still writing, and is left out; any other line that is not a point of the log is an error."""
    header, rows = {}, {"train": [], "eval": []}
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
    except (OSError, UnicodeDecodeError) as error:
        raise SystemExit(f"{path}: cannot read it as a live log ({error})")
    for number, line in enumerate(lines[:-1], start=1):  # the part after the last newline is unfinished
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if number == 1 and record.get("format") != "dsampler-live-log":
                raise ValueError("the first line is not a dsampler live-log header")
            if "kind" in record:
                if record["kind"] not in rows or any(v is not None and not isinstance(v, (int, float)) for k, v in record.items() if k != "kind"):
                    raise ValueError("not a point of the log")
                rows[record["kind"]].append(record)
            else:
                header = record
        except (ValueError, AttributeError) as error:
            raise SystemExit(f"{path}, line {number}: {error}; is this a RUN.jsonl written by dsampler train?")
    curves = {}
    for kind, records in rows.items():
        keys = sorted({k for r in records for k in r if k != "kind"})
        curves[kind] = {k: np.array([np.nan if r.get(k) is None else r[k] for r in records], dtype=float) for k in keys}
    return header, curves


def main_live(args):
    header, curves = live_log(args.run)
    panels = []
    if len(curves["train"].get("seconds", [])) > 1 and "loss" in curves["train"]:
        panels.append(lambda ax: curves_panel(ax, curves["train"]))
    if len(curves["eval"].get("iteration", [])) > 0:
        panels.append(lambda ax: estimates_panel(ax, curves["eval"]))
    if not panels:
        raise SystemExit(f"{args.run}: nothing to plot yet (fewer than two logged points)")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
    for ax, draw in zip(axes[0], panels):
        draw(ax)
    fig.suptitle(f"{header.get('target', '')} {header.get('objective', '')} — {os.path.basename(args.run)} (live)", fontsize=10)
    save(fig, args)


def save(fig, args):
    fig.tight_layout()
    os.makedirs(args.out, exist_ok=True)
    stem = os.path.splitext(os.path.basename(args.run))[0] + ("-live" if args.run.endswith(".jsonl") else "")
    path = os.path.join(args.out, stem + "." + args.format)
    fig.savefig(path, dpi=120)
    print(f"plot: wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run")
    parser.add_argument("--grid", help="density grid written by `dsampler plot`")
    parser.add_argument("--out", default=".")
    parser.add_argument("--format", default="png", choices=["png", "pdf"])
    args = parser.parse_args()
    if args.run.endswith(".jsonl"):
        return main_live(args)
    run = h5py.File(args.run, "r")
    evaluation = run["eval"] if "eval" in run else None
    panels = []
    if args.grid and "samples" in run:
        panels.append(("samples", lambda ax: samples_panel(ax, run, h5py.File(args.grid, "r"))))
    if evaluation is not None and "energy_histogram" in evaluation:
        panels.append(("energy", lambda ax: histogram_panel(ax, evaluation["energy_histogram"], "energy")))
        panels.append(("distance", lambda ax: histogram_panel(ax, evaluation["distance_histogram"], "interatomic distance")))
    if "train" in run and len(run["train"]["seconds"]) > 1 and "loss" in run["train"]:
        panels.append(("training", lambda ax: curves_panel(ax, run["train"])))
    if "train" in run and "eval" in run["train"]:
        panels.append(("estimates", lambda ax: estimates_panel(ax, run["train"]["eval"])))
    if not panels:
        raise SystemExit(f"{args.run}: nothing to plot (no samples, histograms or training curve)")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.5), squeeze=False)
    for ax, (_, draw) in zip(axes[0], panels):
        draw(ax)
    method = " ".join(filter(None, [config_value(run, "target"), config_value(run, "objective")]))
    fig.suptitle(f"{method} — {os.path.basename(args.run)}", fontsize=10)
    save(fig, args)


if __name__ == "__main__":
    main()
