"""The loop that makes Proxmox match the desired state: leases, placement, state machine, backoff, drift."""
