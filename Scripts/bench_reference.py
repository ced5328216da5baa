"""Times the PyTorch reference (GFNOrg/gfn-diffusion, energy_sampling/) on the cases of `dsampler bench`.

Called by Scripts/bench-reference, which interleaves it with `dsampler bench`; prints one line per case in the
same form: `bench NAME ms_per_iter=...` (or `ms_per_eval=...`). The reference's own model, losses and energies are
imported from the checkout given with --reference; nothing of it is copied here. The model is built as the
reference's train.py builds it with `--pis_architectures --zero_init --clipping` (batch 300, T = 100, 64 hidden).
"""
import argparse
import os
import statistics
import sys
import time

CASES = {
    # name: (energy, forward mode, langevin, exploration std)
    "tb-gmm25": ("25gmm", "tb", False, 0.2),
    "tb-funnel": ("hard_funnel", "tb", False, None),
    "tb-manywell": ("many_well", "tb", False, None),
    "tb-manywell-langevin": ("many_well", "tb", True, None),
    "subtb-gmm25": ("25gmm", "subtb", False, None),
    "pis-funnel": ("hard_funnel", "pis", False, None),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--reference", required=True, help="checkout of GFNOrg/gfn-diffusion")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("cases", nargs="+")
    args = parser.parse_args()

    sys.path.insert(0, os.path.join(os.path.abspath(args.reference), "energy_sampling"))
    import torch
    torch.set_num_threads(args.threads)
    from models import GFN
    from utils import get_gfn_optimizer, get_gfn_forward_loss, cal_subtb_coef_matrix
    from gflownet_losses import pis
    from energies import TwentyFiveGaussianMixture, HardFunnel, ManyWell
    from evaluations import log_partition_function, mean_log_likelihood, get_sample_metrics

    device = torch.device("cpu")
    energies = {"25gmm": TwentyFiveGaussianMixture, "hard_funnel": HardFunnel, "many_well": ManyWell}
    T, batch = 100, 300

    def model(energy, langevin):
        torch.manual_seed(0)
        # train.py's defaults with --pis_architectures (which sets --zero_init) and --clipping.
        return GFN(energy.data_ndim, 64, 64, 64, 64, trajectory_length=T, clipping=True, lgv_clip=1e2, gfn_clip=1e4,
                   langevin=langevin, learned_variance=False, partial_energy=False, log_var_range=4.,
                   pb_scale_range=0.1, t_scale=5., langevin_scaling_per_dimension=False,
                   conditional_flow_model=False, learn_pb=False, pis_architectures=True, lgv_layers=3,
                   joint_layers=2, zero_init=True, device=device).to(device)

    for name in args.cases:
        if name == "eval-gmm25":
            energy = TwentyFiveGaussianMixture(device=device)
            gfn = model(energy, False)
            gfn.eval()
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                # train.py's final_eval: 2000 exact samples, 2000 on-policy paths, the likelihood of the exact samples
                # by 10 backward paths each, and the sample metrics (W2 by POT's exact network simplex).
                data = energy.sample(2000)
                with torch.no_grad():
                    samples, _, _, _ = log_partition_function(torch.zeros(2000, energy.data_ndim), gfn, energy.log_reward)
                    mean_log_likelihood(data, gfn, energy.log_reward)
                get_sample_metrics(samples, data, final_eval=True)
                times.append((time.perf_counter() - start) * 1e3)
            print(f"bench {name} ms_per_eval={statistics.median(times):.2f}", flush=True)
            continue
        energy_name, mode, langevin, exploration = CASES[name]
        energy = energies[energy_name](device=device)
        gfn = model(energy, langevin)
        gfn.train()
        optimizer = get_gfn_optimizer(gfn, 1e-3, 1e-2, 1e-3, False, False, False, 1e-7)
        coefficients = cal_subtb_coef_matrix(2, T).to(device)
        explore = (lambda _: exploration) if exploration is not None else None

        def step():
            optimizer.zero_grad()
            start = torch.zeros(batch, energy.data_ndim)
            if mode == "pis":
                loss = pis(start, gfn, energy.log_reward, explore)
            else:
                loss = get_gfn_forward_loss(mode, start, gfn, energy.log_reward, coefficients, exploration_std=explore)
            loss.backward()
            optimizer.step()

        for _ in range(3):
            step()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for _ in range(args.iterations):
                step()
            times.append((time.perf_counter() - start) * 1e3 / args.iterations)
        print(f"bench {name} ms_per_iter={statistics.median(times):.2f}", flush=True)


if __name__ == "__main__":
    main()
