"""controlplane.pvesim - a Proxmox VE API simulator for tests, demos and benchmarks.

It serves ``/api2/json`` over HTTPS (self-signed CA written to a file) with PVE's wire format, token and
ticket auth, schema-validated parameters (from the official ``apischema.json``), asynchronous tasks with
real-looking UPIDs, guest locks, digests, storage volumes, pools, metrics, and fault injection.

In-process use::

    with Simulator(SimConfig(nodes=3, guests=20)) as sim:
        ProxmoxAPI("127.0.0.1", port=sim.port, user="root@pam", token_name=sim.token_name,
                   token_value=sim.token_secret, verify_ssl=sim.ca_file)

Standalone: ``controlplane pvesim --port 8006 --nodes 3 --guests 200 --seed 1`` or
``python -m controlplane.pvesim ...``.

Admin API (outside ``/api2/json``; JSON bodies; root@pam token or ticket required, 403 otherwise):

* ``GET    /_sim/state``                       counts: nodes (online flags), guests, running, pools, tasks
* ``GET    /_sim/stats``                       API requests counted per (method, route template)
* ``DELETE /_sim/stats``                       reset the request counters (returns what they held)
* ``GET    /_sim/faults``                      active fault rules
* ``POST   /_sim/faults``                      add a rule:
  ``{"kind": "error", "path": "/cluster/*", "rate": 0.5}``
  or ``{"spec": "error,path=/cluster/*,rate=0.5,status=503"}`` (see :mod:`.faults` for kinds and keys)
* ``DELETE /_sim/faults``                      remove all rules
* ``POST   /_sim/nodes/{node}/offline|online`` take a node offline (595 "No route to host") or back
* ``POST   /_sim/guests/{vmid}/stop|start``    change power state behind the control plane's back
* ``DELETE /_sim/guests/{vmid}``               delete a guest and its volumes out of band
* ``PUT    /_sim/guests/{vmid}/config``        ``{"set": {"cores": 4}, "delete": ["tags"]}`` -> new digest
* ``PUT    /_sim/guests/{vmid}/ip``            ``{"ip": "127.0.0.1"}``: the address the guest reports

The same out-of-band changes are methods of :attr:`Simulator.state`
(:class:`~controlplane.pvesim.state.ClusterState`).
"""

from __future__ import annotations

from .config import SimConfig, TokenSpec, UserSpec
from .errors import PveError
from .server import Simulator

__all__ = ["PveError", "SimConfig", "Simulator", "TokenSpec", "UserSpec"]
