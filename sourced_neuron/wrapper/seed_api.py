"""The 100 functions of the Sourced Neuron API, by section, in the order the project's seed
document lists them. :class:`~sourced_neuron.SourcedNeuron` implements each one in the module of
its section; ``docs/api.md`` is generated from this list and the docstrings."""

from __future__ import annotations

import re

#: section title -> (module of the wrapper package, names in the seed's order)
SECTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Core lifecycle and initialisation": (
        "lifecycle",
        (
            "InitNeu",
            "SetWeight",
            "SetBias",
            "GetState",
            "ResetNeu",
            "InitXavier",
            "InitHe",
            "CopyNeu",
            "SetID",
            "CheckHealth",
            "CloneState",
            "Version",
            "Shutdown",
            "MainLoop",
        ),
    ),
    "Signal processing and mathematics": (
        "signals",
        (
            "ProcInput",
            "SumSignals",
            "FireImpulse",
            "Integrate",
            "Leakage",
            "SynapticDelay",
            "ScaleInput",
            "BiasShift",
            "PulseSync",
            "ParallelSum",
        ),
    ),
    "Activation functions": (
        "activations",
        (
            "ActReLU",
            "ActSigmoid",
            "ActTanh",
            "ActSoftmax",
            "ActLeaky",
            "ActELU",
            "ActSwish",
            "PulseWidth",
            "StepFunc",
            "LinearFunc",
            "SoftPlus",
            "MishAct",
        ),
    ),
    "Learning and optimisation": (
        "learning",
        (
            "CalcError",
            "BackProp",
            "UpdWeight",
            "UpdBias",
            "SetLR",
            "DecayLR",
            "ClipGrad",
            "L1Reg",
            "L2Reg",
            "MomUpdate",
            "AdamOpt",
            "RMSProp",
            "AdaGrad",
            "GetGrads",
            "ResetGrads",
            "SetTarget",
            "BatchSize",
        ),
    ),
    "Topology and connectivity": (
        "topology",
        (
            "SynapsePrune",
            "Inhibit",
            "Excite",
            "GetLayer",
            "BindTo",
            "Unbind",
            "GetSynCount",
            "MapTopology",
            "DistanceTo",
            "PruneOrphan",
        ),
    ),
    "Validation and metrics": (
        "validation",
        (
            "CheckNaN",
            "CheckLimit",
            "PeakVoltage",
            "FreqCheck",
            "LogLoss",
            "MSELoss",
            "HuberLoss",
            "SetMaxWeight",
            "SetMinWeight",
            "IsSaturated",
            "VerifyArch",
            "CheckDep",
        ),
    ),
    "Data persistence and I/O": (
        "persistence",
        (
            "SaveModel",
            "LoadModel",
            "LogActivity",
            "StreamIn",
            "FlushQueue",
            "WatchWeight",
            "LatentState",
            "ExportJSON",
            "ImportCSV",
            "TracePath",
        ),
    ),
    "Performance and hardware": (
        "performance",
        (
            "DropOut",
            "NormBatch",
            "PlotNeuron",
            "Refractory",
            "SetPrecision",
            "MutateWeight",
            "Crossover",
            "IsFiring",
            "HeatMap",
            "NoiseGen",
            "AvgEnergy",
            "EnableGPU",
            "SharedMem",
            "UnitTests",
            "Benchmark",
        ),
    ),
}

#: every name, in the seed's order
NAMES: tuple[str, ...] = tuple(name for _, names in SECTIONS.values() for name in names)


#: acronyms written as one word in the PEP 8 aliases
_ACRONYMS = {
    "ReLU": "Relu",
    "NaN": "Nan",
    "MSE": "Mse",
    "RMSProp": "Rmsprop",
    "ELU": "Elu",
    "JSON": "Json",
    "CSV": "Csv",
    "GPU": "Gpu",
    "LR": "Lr",
    "ID": "Id",
}


def snake_case(name: str) -> str:
    """The PEP 8 alias of a seed name: ``InitNeu`` -> ``init_neu``, ``ActReLU`` -> ``act_relu``,
    ``L1Reg`` -> ``l1_reg``, ``MSELoss`` -> ``mse_loss``, ``CheckNaN`` -> ``check_nan``."""
    for acronym, word in _ACRONYMS.items():
        name = name.replace(acronym, word)
    return "_".join(part.lower() for part in re.findall(r"[A-Z][a-z]*\d*|\d+|[a-z]+", name))
