"""The loop that makes Proxmox match the desired state: leases, placement, state machine, backoff, drift.

Entry points: :func:`controlplane.reconciler.worker.start_worker` (in-process, ``controlplane up``) and the
``controlplane worker`` command. Everything else here is a part of one of them.
"""
