"""Benchmark: describing a large network (every synapse drawn) in time and memory per synapse.

A Brunel-like network of N neurons (80 % excitatory) with in-degree K from each of the
excitatory and inhibitory populations (K/4 inhibitory), drawn by :class:`sourced_neuron.Network`
from its seed and turned into the run's description (``Network.spec``) without simulating.
Prints the synapses, the wall time of drawing and of the description, and the peak resident
memory of the process over the memory after imports, per synapse.

    python benchmarks/connectivity.py [--neurons 1000000] [--indegree 80] [--rule fixed_indegree]
"""

from __future__ import annotations

import argparse
import resource
import time


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return int(next(x for x in status if x.startswith("VmRSS")).split()[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1_000_000)
    parser.add_argument("--indegree", type=int, default=80, help="excitatory in-degree (inhibitory: a quarter)")
    parser.add_argument("--rule", choices=("fixed_indegree", "fixed_probability"), default="fixed_indegree")
    args = parser.parse_args()
    import sourced_neuron as sn

    n_e = args.neurons * 4 // 5
    n_i = args.neurons - n_e
    net = sn.Network(seed=1)
    net.population("exc", "lif", n_e)
    net.population("inh", "lif", n_i)
    base = rss_mb()
    started = time.perf_counter()
    synapses = 0
    for target in ("exc", "inh"):
        for pre, k, size in (("exc", args.indegree, n_e), ("inh", args.indegree // 4, n_i)):
            rule = {"indegree": k} if args.rule == "fixed_indegree" else {"p": k / size}
            synapses += net.connect(
                pre,
                target,
                args.rule,
                weight="10 pA",
                delay="1.5 ms",
                receptor="exc" if pre == "exc" else "inh",
                **rule,
            )
    drawn = time.perf_counter() - started
    spec = net.spec("1 ms")
    described = time.perf_counter() - started - drawn
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{args.neurons:,} neurons, {synapses:,} synapses ({args.rule}): drawn in {drawn:.1f} s, described in "
        f"{described:.1f} s; peak {peak:,.0f} MB, {(peak - base) * 2**20 / synapses:.1f} bytes per synapse "
        f"(indices {spec.projections[0].i.dtype}, shared weights and delays as one number each)"
    )


if __name__ == "__main__":
    main()
