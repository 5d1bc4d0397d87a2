"""Adapters to the outside world (Vault, Proxmox, OpenTofu, Ansible); foreign errors become ours here."""
