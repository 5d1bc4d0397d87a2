"""Backups of a control plane and their restore: ``controlplane backup DIR`` / ``controlplane restore DIR``.

A backup is a directory (mode 0700, files 0600: it holds every secret of the installation) with a
PostgreSQL dump of one snapshot of the database, an export of the control plane's secrets in Vault KV v2,
for an embedded install with the demo cluster the simulator's state, and ``manifest.json`` (versions,
migration revision, time, row counts, checksums), written last.
"""
