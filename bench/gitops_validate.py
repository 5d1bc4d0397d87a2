"""Benchmark: ``controlplane validate`` over 1,000 guest files, against only parsing them with PyYAML (C).

Prints the time of each and the ratio; the target is 1,000 files in under 2 s.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import yaml

from controlplane.gitops import validate

FILES = 1000
TEMPLATE = """\
apiVersion: controlplane/v1
kind: VirtualMachine
metadata:
  name: web-{n}
  project: shop
  labels: {{tier: web, team: t{n}}}
spec:
  cluster: demo
  cores: 2
  memory_mb: 2048
  disks: [{{size_gb: 20, storage: local-lvm}}]
  image: debian-12
  network: [{{bridge: vmbr0, ipv4: dhcp}}]
  power: running
"""


def main() -> None:
    """Write the files, time the baseline and validate, print the summary."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for n in range(FILES):
            (root / f"web-{n}.yaml").write_text(TEMPLATE.format(n=n))
        start = time.perf_counter()
        for path in sorted(root.glob("*.yaml")):
            list(yaml.load_all(path.read_text(), Loader=yaml.CSafeLoader))
        baseline = time.perf_counter() - start
        start = time.perf_counter()
        result = validate.load([root])
        took = time.perf_counter() - start
    if result.problems or len(result.documents) != FILES:
        sys.exit(f"unexpected result: {result.problems[:3]}")
    print(f"parse only (PyYAML C): {baseline:.3f} s; validate: {took:.3f} s; ratio {took / baseline:.1f}x")
    print(f"summary: validate {FILES} files in {took:.2f} s ({'under' if took < 2 else 'OVER'} the 2 s target)")


if __name__ == "__main__":
    main()
