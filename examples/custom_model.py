"""Write your own model as YAML, check it, and measure its f-I curve in one run.

python examples/custom_model.py
"""

from __future__ import annotations

import numpy as np
import quantities as pq

import sourced_neuron as sn

# A quadratic integrate-and-fire neuron (Latham et al. 2000) with spike-triggered adaptation.
MODEL = """
name: qif_adapt
description: Quadratic integrate-and-fire neuron with an adaptation current.
references: ["Latham PE, Richmond BJ, Nelson PG, Nirenberg S (2000) J Neurophysiol 83:808-827"]
equations: |
  dv/dt = (k_q*(v - E_L)*(v - V_c) - w + I_ext)/C_m : volt (unless refractory)
  dw/dt = -w/tau_w : amp
threshold: v > V_peak
reset: |
  v = V_reset
  w += b
refractory: 1 ms
parameters:
  k_q: 0.7 nS/mV
  E_L: -65 mV
  V_c: -50 mV
  C_m: 100 pF
  tau_w: 150 ms
  b: 40 pA
  V_peak: 20 mV
  V_reset: -60 mV
initial: {v: E_L}
numerics: {method: rk4, dt: 0.05 ms}
"""


def main() -> None:
    model = sn.NeuronModel.from_yaml(MODEL, source="qif_adapt.yaml")
    currents = np.arange(0, 401, 50.0)
    block = sn.simulate(model, duration="1 s", n_neurons=len(currents), stimulus=currents * pq.pA, record=())
    rates = [len(train) for train in block.segments[0].spiketrains]  # spikes in 1 s = Hz
    for current, rate in zip(currents, rates, strict=True):
        print(f"{current:5.0f} pA  {rate:4d} Hz")

    # a mistake is reported with file, line and both units
    try:
        sn.NeuronModel.from_yaml(MODEL.replace("tau_w: 150 ms", "tau_w: 150 mV"), source="qif_adapt.yaml")
    except sn.ModelError as error:
        print(error)


if __name__ == "__main__":
    main()
