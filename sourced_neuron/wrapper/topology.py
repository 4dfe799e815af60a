"""Topology and connectivity: synaptic links between wrapped neurons, their layers and
positions, and running the linked neurons as one network on a backend.

A **link** ``a -> b`` is a permanent synapse from neuron ``a`` onto a receptor port of ``b``'s
model (the ``synapses:`` of its model file, docs/networks.md): a weight in the port's unit
(amp for current ports, siemens for conductance ports, volt for delta ports) and a delay.
Both ends keep the same link (``a`` as outgoing, ``b`` as incoming), so the graph of bound
neurons can be walked from any of them. :meth:`Topology.RunNetwork` builds an
:class:`sourced_neuron.Network` of a neuron and every neuron linked to it, directly or not, in
either direction: each neuron is a population of one neuron of its own model, parameters and
present state, driven by its present input as a constant current, and each link is a
connection onto its port. Links never change how a neuron runs on its own (``Integrate``);
they act in :meth:`Topology.RunNetwork`.

Weights: a quantity or a string with units (``"200 pA"``, ``"5 nS"``), or a plain number in
the port's display unit (pA, nS, mV). The sign of a weight is the sign of its effect: a
negative weight inhibits. On a conductance port the conductance is the weight's magnitude
(the port's reversal potential decides the effect), so an inhibitory link onto a conductance
port is stored with a negative weight and sent to the simulator as a positive conductance.
"""

from __future__ import annotations

from sourced_neuron.common import brian2_import  # noqa: F401 - before Brian2: keeps the user's excepthook

# isort: split

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import neo
import numpy as np
import quantities as pq
from brian2.units.fundamentalunits import get_dimensions

from sourced_neuron.common.errors import InputError, SourcedNeuronError
from sourced_neuron.spec import expressions as ex
from sourced_neuron.spec.parts import VOLT, ReceptorPort
from sourced_neuron.spec.units import as_quantity, neo_unit
from sourced_neuron.wrapper.arguments import Duration, WithUnits
from sourced_neuron.wrapper.core import Neuron, NeuronCore

#: receptor port names that suggest excitation / inhibition (matched anywhere in the name)
EXCITATORY = ("exc", "ampa", "nmda", "glu")
INHIBITORY = ("inh", "gaba", "gly")

#: weight of a link when none is given, by port type (current, conductance, delta)
DEFAULT_WEIGHTS = {"current": "200 pA", "conductance": "5 nS", "delta": "2 mV"}

#: spacing of the automatic grid of MapTopology (µm)
GRID_SPACING_UM = 100.0

_METRE = get_dimensions(ex.UNITS["meter"])


@dataclass(eq=False)
class Link:
    """A synapse ``pre -> post`` onto ``post``'s receptor port ``receptor``: ``weight`` in SI
    units of the port (signed: negative inhibits) and ``delay`` in seconds."""

    pre: Any
    post: Any
    receptor: str
    weight: float
    delay: float

    def port(self) -> ReceptorPort:
        return next(p for p in self.post.model.synapses if p.name == self.receptor)

    def quantity(self) -> pq.Quantity:
        """The weight in the port's display unit (pA, nS, mV)."""
        _, unit = neo_unit(self.port().weight_dimension)
        return (self.weight * _si_unit(self.port())).rescale(unit)

    def simulator_weight(self) -> float:
        """The weight handed to the simulator: a conductance is the magnitude."""
        return abs(self.weight) if self.port().type == "conductance" and self.port().kernel != "delta" else self.weight


def _si_unit(port: ReceptorPort) -> pq.Quantity:
    if port.weight_dimension == VOLT:
        return 1.0 * pq.V
    return 1.0 * (pq.S if port.type == "conductance" else pq.A)


def _is(port: ReceptorPort, words: tuple[str, ...]) -> bool:
    """Whether the port's name suggests excitation (``EXCITATORY``) or inhibition."""
    return any(word in port.name.lower() for word in words)


def _kind(port: ReceptorPort) -> str:
    return "delta" if port.kernel == "delta" else port.type


class Topology(NeuronCore):
    """Functions 54-63 of the API, and :meth:`RunNetwork`."""

    def _setup(self) -> None:
        super()._setup()
        self.detached = False  # set by PruneOrphan: the neuron was removed from the graph
        self._layer: int | None = None  # SetLayer's override of the derived layer
        self._position: np.ndarray | None = None  # SetPosition's coordinates (µm)
        #: ``("out" | "in", id(peer)) -> Link``: both ends of a link hold it (copies start unbound)
        self._links: dict[tuple[str, int], Link] = {}

    # --- links ------------------------------------------------------------------------------------

    def BindTo(
        self,
        peer: Neuron,
        weight: WithUnits | None = None,
        delay: Duration | None = None,
        receptor: str | None = None,
    ) -> Topology:
        """Establish a permanent synaptic link from this neuron to ``peer``: each spike of this
        neuron reaches ``peer``'s receptor port after ``delay`` (in :meth:`RunNetwork`).

        Binding again to the same peer updates the link (weight, port, and the delay when one
        is given).

        Parameters
        ----------
        peer : SourcedNeuron
            Another neuron; its model needs receptor ports (``synapses:`` in its model file).
        weight : str, quantity or number, optional
            In the port's unit (a plain number: pA, nS or mV); negative inhibits. Default:
            200 pA (current ports), 5 nS (conductance), 2 mV (delta).
        delay : str or quantity, optional
            Whole time steps, at least one; default: the present link's, or 1 ms (NEST's
            default) for a new link.
        receptor : str, optional
            The port; default: the excitatory port (a name with ``exc``, ``ampa``, ``nmda``)
            for a non-negative weight, the inhibitory one (``inh``, ``gaba``) for a negative.
            Named explicitly, a current or delta port takes the weight as given; a conductance
            port takes a positive conductance (stored negative on an inhibitory port).

        Examples
        --------
        >>> a, b = SourcedNeuron("lif"), SourcedNeuron("lif"); a.BindTo(b, "150 pA").GetSynCount()
        1
        """
        self._check_peer(peer, "BindTo")
        if receptor is None:
            port, value = self._port_for(peer, weight)
        else:
            port = self._named_port(peer, receptor)
            value = self._weight_in(port, weight, "weight")
            if port.type == "conductance" and port.kernel != "delta":
                if value < 0 and not _is(port, INHIBITORY):
                    raise InputError(f"weight: a conductance is positive, got {weight!r} for port {port.name!r}")
                value = -abs(value) if _is(port, INHIBITORY) else value
        self._link(peer, port.name, value, self._delay_of(peer, delay))
        return self

    def Unbind(self, peer: Neuron) -> Topology:
        """Sever the link from this neuron to ``peer`` and the link from ``peer`` to this neuron,
        whichever exist; refused when there is none.

        Examples
        --------
        >>> a.BindTo(b).Unbind(b).GetSynCount()  # doctest: +SKIP
        0
        """
        links = self._links_map()
        found = [key for key in (("out", id(peer)), ("in", id(peer))) if key in links]
        if not found:
            raise InputError(f"Unbind: neuron {self.id} is not bound to {getattr(peer, 'id', peer)!r}")
        for key in found:
            _drop(links[key])
        return self

    def Excite(self, n2: Neuron, weight: WithUnits | None = None, delay: Duration | None = None) -> Topology:
        """Link this neuron to ``n2`` through ``n2``'s excitatory receptor port, so that each of
        this neuron's spikes raises ``n2``'s membrane potential (in :meth:`RunNetwork`).

        Parameters
        ----------
        n2 : SourcedNeuron
        weight : str, quantity or number, optional
            Its magnitude is used (default as :meth:`BindTo`).
        delay : str or quantity, optional
            As :meth:`BindTo`.

        Examples
        --------
        >>> source.Excite(target, "200 pA").RunNetwork("100 ms")  # doctest: +SKIP
        """
        self._check_peer(n2, "Excite")
        port = self._typed_port(n2, EXCITATORY, "excitatory")
        value = abs(self._weight_in(port, weight, "weight"))
        self._link(n2, port.name, value, self._delay_of(n2, delay))
        return self

    def Inhibit(self, n2: Neuron, weight: WithUnits | None = None, delay: Duration | None = None) -> Topology:
        """Link this neuron to ``n2`` through ``n2``'s inhibitory receptor port, so that each of
        this neuron's spikes suppresses ``n2``'s firing (in :meth:`RunNetwork`).

        The weight's magnitude is used; on a current or delta port the link's weight is its
        negative (a hyperpolarising current), on a conductance port the conductance is the
        magnitude and the port's reversal potential inhibits.

        Examples
        --------
        >>> source.Inhibit(target, "500 pA").RunNetwork("100 ms")  # doctest: +SKIP
        """
        self._check_peer(n2, "Inhibit")
        port = self._typed_port(n2, INHIBITORY, "inhibitory")
        value = -abs(self._weight_in(port, weight, "weight"))
        self._link(n2, port.name, value, self._delay_of(n2, delay))
        return self

    def GetSynCount(self) -> int:
        """The number of active synaptic links of this neuron: outgoing plus incoming (a pair of
        neurons bound both ways counts twice).

        Examples
        --------
        >>> a.BindTo(b); b.BindTo(a); a.GetSynCount()  # doctest: +SKIP
        2
        """
        return len(self._links_map())

    def GetLinks(self) -> list[dict[str, Any]]:
        """Every link of this neuron (outgoing first): ``pre`` and ``post`` (IDs), ``direction``
        (``"out"`` or ``"in"``), ``receptor``, ``weight`` (pA, nS or mV) and ``delay`` (ms).

        Examples
        --------
        >>> a.BindTo(b, "150 pA").GetLinks()[0]["weight"]  # doctest: +SKIP
        array(150.) * pA
        """
        ordered = sorted(self._links_map().items(), key=lambda item: item[0][0] != "out")
        return [
            {
                "pre": link.pre.id,
                "post": link.post.id,
                "direction": key[0],
                "receptor": link.receptor,
                "weight": link.quantity(),
                "delay": link.delay * 1e3 * pq.ms,
            }
            for key, link in ordered
        ]

    def SynapsePrune(self, threshold: WithUnits) -> int:
        """Remove this neuron's links (outgoing and incoming) whose weight magnitude is below
        ``threshold``; return how many were removed.

        Parameters
        ----------
        threshold : str, quantity or number
            With units, of the links' weight unit (amp, siemens or volt); a plain number is
            in each link's display unit (pA, nS, mV).

        Examples
        --------
        >>> a.BindTo(b, "20 pA").BindTo(c, "300 pA").SynapsePrune("50 pA")  # doctest: +SKIP
        1
        """
        if float(np.asarray(as_quantity(threshold, "threshold"))) < 0:  # checked even without links
            raise InputError(f"threshold must not be negative, got {threshold!r}")
        links = list(self._links_map().values())
        weak = []
        for link in links:  # every comparison is checked before anything is removed
            port = link.port()
            limit = self._weight_in(port, threshold, "threshold")
            if limit < 0:
                raise InputError(f"threshold must not be negative, got {threshold!r}")
            if abs(link.weight) < limit:
                weak.append(link)
        for link in weak:
            _drop(link)
        return len(weak)

    def PruneOrphan(self) -> bool:
        """Delete the neuron from the graph of bound neurons if it has no links: it is marked
        ``detached`` (it refuses new links and keeps no layer or position override). Returns
        whether it was pruned.

        Examples
        --------
        >>> SourcedNeuron("lif").PruneOrphan()
        True
        """
        if self._links_map():
            return False
        self._links = {}
        self._layer = None
        self._position = None
        self.detached = True
        return True

    # --- layers and space -------------------------------------------------------------------------

    def GetLayer(self) -> int:
        """The index of this neuron's layer in the graph of bound neurons: the length of the
        longest chain of links from a neuron without incoming links to this one (0 for such a
        neuron). Neurons on a cycle share one layer (the cycle counts as one node). A layer set
        with :meth:`SetLayer` overrides the derived one and is the base of the layers after it.

        Examples
        --------
        >>> a.BindTo(b); b.BindTo(c); c.GetLayer()  # doctest: +SKIP
        2
        """
        nodes = self._component()
        return self._layers(nodes)[0]

    def SetLayer(self, k: int | None) -> Topology:
        """Set this neuron's layer explicitly (``None``: derive it from the links again).

        Examples
        --------
        >>> SourcedNeuron("lif").SetLayer(3).GetLayer()
        3
        """
        if k is not None and (isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0):
            raise InputError(f"layer must be a non-negative integer or None, got {k!r}")
        self._layer = None if k is None else int(k)
        return self

    def MapTopology(self) -> pq.Quantity:
        """The neuron's coordinates in a 3-d grid (µm): set by :meth:`SetPosition`, otherwise
        ``(layer, index, 0)`` times 100 µm, where ``index`` counts the neurons of the same layer
        among those bound to it (directly or not), ordered by ID.

        Examples
        --------
        >>> SourcedNeuron("lif").MapTopology()
        array([0., 0., 0.]) * um
        """
        if self._position is not None:
            return self._position.copy() * pq.um
        nodes = self._component()
        layers = self._layers(nodes)
        same = sorted((n.id, k) for k, n in enumerate(nodes) if layers[k] == layers[0])
        index = next(i for i, (_, k) in enumerate(same) if k == 0)
        return np.array([layers[0], index, 0.0]) * GRID_SPACING_UM * pq.um

    def SetPosition(self, position: Sequence[WithUnits] | np.ndarray | None) -> Topology:
        """Place the neuron at ``position`` (three coordinates; lengths, or plain numbers in
        µm); ``None`` returns it to the automatic grid of :meth:`MapTopology`.

        Examples
        --------
        >>> SourcedNeuron("lif").SetPosition([10, 20, 30] * pq.um).MapTopology()  # doctest: +SKIP
        array([10., 20., 30.]) * um
        """
        if position is None:
            self._position = None
            return self
        if isinstance(position, pq.Quantity):
            try:
                values = np.asarray(position.rescale(pq.um).magnitude, dtype=float)
            except ValueError:
                raise InputError(f"position must be lengths, got {position!r}") from None
        elif isinstance(position, list | tuple) and any(isinstance(v, str | pq.Quantity) for v in position):
            values = np.array([float(as_quantity(v, "position", _METRE)) * 1e6 for v in position])
        else:
            try:
                values = np.asarray(position, dtype=float)
            except (TypeError, ValueError):
                raise InputError(f"position must be three numbers (µm) or lengths, got {position!r}") from None
        if values.shape != (3,) or not np.all(np.isfinite(values)):
            raise InputError(f"position must be three finite coordinates, got {position!r}")
        self._position = values.copy()
        return self

    def DistanceTo(self, n: Neuron) -> pq.Quantity:
        """The Euclidean distance between this neuron's and ``n``'s coordinates
        (:meth:`MapTopology`), in µm.

        Examples
        --------
        >>> a.SetPosition([0, 0, 0]).DistanceTo(b.SetPosition([30, 40, 0]))  # doctest: +SKIP
        array(50.) * um
        """
        if not isinstance(n, Topology):
            raise InputError(f"DistanceTo needs another SourcedNeuron, got {type(n).__name__}")
        here = self.MapTopology().magnitude
        there = n.MapTopology().magnitude
        return float(np.linalg.norm(here - there)) * pq.um

    # --- the network ------------------------------------------------------------------------------

    def RunNetwork(self, duration: Duration, backend: str | None = None) -> neo.Block:
        """Simulate this neuron and every neuron linked to it (directly or not, either
        direction) as one :class:`sourced_neuron.Network` and return its Neo block.

        Each neuron is a population of one neuron of its own model and parameters, starting
        from its present state (the state at its ``t``; a refractory period running then is not
        carried over) and driven by its present input as a constant current (``current_scale``
        times ``SumSignals``; ``PulseWidth`` and ``SynapticDelay`` of the neuron's own input do
        not apply). Each link is a connection onto its receptor port. The neurons themselves
        are not changed (their ``t`` stays). The network's step is this neuron's, its seed the
        neuron's seed.

        Returns
        -------
        neo.Block
            A spike train and a membrane-potential signal per neuron, annotated
            ``population`` = the neuron's ID (the block's ``neurons`` annotation maps the
            simulator's population names to the IDs).

        Examples
        --------
        >>> source.Excite(target).RunNetwork("100 ms", backend="brian2")  # doctest: +SKIP
        """
        from sourced_neuron.run.network import Network

        nodes = self._component()
        seen: dict[str, Any] = {}
        for node in nodes:
            if seen.setdefault(node.id, node) is not node:
                raise InputError(f"RunNetwork: two linked neurons are named {node.id!r}; give one another ID (SetID)")
        names = _population_names(nodes)
        net = Network(dt=self.dt * pq.s, seed=self.seed)
        for node, name in zip(nodes, names, strict=True):
            if np.ndim(node.inputs) != 1:
                raise InputError(f"RunNetwork: neuron {node.id}'s present input is a batch; present one vector")
            start = {k: v for k, v in node.state().items() if k in node.model.state_variables} if node.t > 0 else {}
            net.population(name, node.model, 1, params=start)
            drive = node.drive()
            if drive != 0 and node.model.uses_input:
                net.inject(name, drive * pq.A)
            variables = ["spikes"]
            if node.model.membrane_potential:
                variables.append(node.model.membrane_potential)
            net.record(name, variables)
        index = {id(node): name for node, name in zip(nodes, names, strict=True)}
        for node in nodes:
            for (direction, _), link in node._links_map().items():
                if direction == "out":
                    net.connect(
                        index[id(node)],
                        index[id(link.post)],
                        "all_to_all",
                        weight=link.simulator_weight() * _si_unit(link.port()),
                        delay=link.delay * pq.s,
                        receptor=link.receptor,
                    )
        block = net.run(duration, backend=backend or self.backend, progress=False)
        from sourced_neuron.results.blocks import rename_populations

        ids = {name: node.id for node, name in zip(nodes, names, strict=True)}
        rename_populations(block, ids)  # trains, signals and the structure alike
        block.annotate(neurons=[f"{name}: {ids[name]}" for name in names])
        return block

    run_network = RunNetwork

    # --- helpers ----------------------------------------------------------------------------------

    def _links_map(self) -> dict[tuple[str, int], Link]:
        """``("out" | "in", id(peer)) -> Link``."""
        return self._links

    def _check_peer(self, peer: Any, what: str) -> None:
        if not isinstance(peer, Topology):  # every SourcedNeuron is one
            raise InputError(f"{what}: the peer must be a SourcedNeuron, got {type(peer).__name__}")
        if peer is self:
            raise InputError(f"{what}: neuron {self.id} cannot bind to itself")
        for neuron in (self, peer):
            if neuron.detached:
                raise InputError(f"{what}: neuron {neuron.id} was pruned (PruneOrphan) and takes no links")
        if not peer.model.synapses:
            raise InputError(
                f"{what}: model {peer.model.name!r} of neuron {peer.id} has no receptor ports "
                "(synapses: in its model file), so nothing can be bound to it"
            )

    def _named_port(self, peer: Any, receptor: str) -> ReceptorPort:
        ports = {p.name: p for p in peer.model.synapses}
        if receptor not in ports:
            raise InputError(
                f"receptor: model {peer.model.name!r} of neuron {peer.id} has no port {receptor!r}; "
                f"ports: {', '.join(ports)}"
            )
        return ports[receptor]

    def _typed_port(self, peer: Any, words: tuple[str, ...], kind: str) -> ReceptorPort:
        for port in peer.model.synapses:
            if _is(port, words):
                return port
        ports = ", ".join(p.name for p in peer.model.synapses)
        raise InputError(
            f"model {peer.model.name!r} of neuron {peer.id} has no {kind} receptor port (a name with "
            f"{' or '.join(words)}); its ports: {ports}"
        )

    def _port_for(self, peer: Any, weight: Any) -> tuple[ReceptorPort, float]:
        """The port and weight of ``BindTo`` without a receptor: the sign picks the port."""
        # read against the excitatory port first; a negative weight is re-read against the
        # inhibitory port (whose unit may differ)
        exc = self._typed_port(peer, EXCITATORY, "excitatory")
        value = self._weight_in(exc, weight, "weight")
        if value >= 0:
            return exc, value
        inh = self._typed_port(peer, INHIBITORY, "inhibitory")
        return inh, -abs(self._weight_in(inh, weight, "weight"))

    @staticmethod
    def _weight_in(port: ReceptorPort, value: Any, what: str) -> float:
        """A weight (or threshold) in SI units of ``port``; plain numbers in its display unit."""
        if value is None:
            value = DEFAULT_WEIGHTS[_kind(port)]
        if isinstance(value, int | float | np.number) and not isinstance(value, bool):
            _, unit = neo_unit(port.weight_dimension)
            value = float(value) * unit
        try:
            result = float(as_quantity(value, what, port.weight_dimension))
        except SourcedNeuronError as error:
            raise InputError(f"{what} for port {port.name!r} ({_kind(port)}): {error}") from None
        if not np.isfinite(result):
            raise InputError(f"{what} must be finite, got {value!r}")
        return result

    def _delay_of(self, peer: Any, delay: Any) -> float:
        """A link's delay (s): ``None`` keeps the present link's, or is 1 ms for a new one."""
        if delay is None:
            old = self._links_map().get(("out", id(peer)))
            if old is not None:
                return old.delay
            delay = "1 ms"
        steps = self.steps_of(delay, "delay")
        if steps < 1:
            raise InputError(f"delay must be at least one time step ({self.dt * 1e3:g} ms), got {delay!r}")
        if abs(peer.dt - self.dt) > 1e-15:
            peer.steps_of(delay, "delay")  # on the peer's grid too
        return steps * self.dt

    def _link(self, peer: Any, receptor: str, weight: float, delay: float) -> None:
        links, theirs = self._links_map(), peer._links_map()
        link = links.get(("out", id(peer)))
        if link is None:
            link = Link(self, peer, receptor, weight, delay)
            links[("out", id(peer))] = link
            theirs[("in", id(self))] = link
        else:
            link.receptor, link.weight, link.delay = receptor, weight, delay

    def _component(self) -> list[Any]:
        """This neuron and every neuron linked to it, directly or not (breadth first, self first)."""
        nodes, seen, k = [self], {id(self)}, 0
        while k < len(nodes):
            for link in nodes[k]._links_map().values():
                for other in (link.pre, link.post):
                    if id(other) not in seen:
                        seen.add(id(other))
                        nodes.append(other)
            k += 1
        return nodes

    @staticmethod
    def _layers(nodes: list[Any]) -> list[int]:
        """The layer of each node (see GetLayer): longest path over the strongly connected
        components (SciPy), in topological order, with SetLayer overrides as they are met."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        position = {id(n): k for k, n in enumerate(nodes)}
        edges = [
            (position[id(n)], position[id(link.post)])
            for n in nodes
            for (direction, _), link in n._links_map().items()
            if direction == "out"
        ]
        size = len(nodes)
        rows = [i for i, _ in edges]
        cols = [j for _, j in edges]
        graph = csr_matrix((np.ones(len(edges)), (rows, cols)), shape=(size, size))
        count, label = connected_components(graph, directed=True, connection="strong")
        # the condensation: component -> components it links to, and the nodes feeding each
        successors: list[set[int]] = [set() for _ in range(count)]
        indegree = np.zeros(count, dtype=int)
        for i, j in edges:
            a, b = label[i], label[j]
            if a != b and b not in successors[a]:
                successors[a].add(b)
                indegree[b] += 1
        members: list[list[int]] = [[] for _ in range(count)]
        for k in range(size):
            members[label[k]].append(k)
        base = np.zeros(count, dtype=int)  # the layer a component's members get from upstream
        layers = [0] * size
        ready = [c for c in range(count) if indegree[c] == 0]
        while ready:
            c = ready.pop()
            for k in members[c]:
                override = nodes[k]._layer
                layers[k] = int(base[c]) if override is None else override
            top = max(layers[k] for k in members[c])
            for d in successors[c]:
                base[d] = max(base[d], top + 1)
                indegree[d] -= 1
                if indegree[d] == 0:
                    ready.append(d)
        return layers


def _drop(link: Link) -> None:
    link.pre._links_map().pop(("out", id(link.post)), None)
    link.post._links_map().pop(("in", id(link.pre)), None)


def _population_names(nodes: list[Any]) -> list[str]:
    """Population names (identifiers, unique) for the neurons' IDs."""
    names: list[str] = []
    for node in nodes:
        base = re.sub(r"\W", "_", node.id)
        base = base if base and not base[0].isdigit() else f"n_{base}"
        name, k = base, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    return names


__all__ = ["DEFAULT_WEIGHTS", "EXCITATORY", "INHIBITORY", "Link", "Topology"]
