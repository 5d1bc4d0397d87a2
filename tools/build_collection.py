"""Build the Ansible collection ``controlplane.controlplane`` from ``inventory_plugins/controlplane.py``.

The collection holds one plugin, ``controlplane.controlplane.inventory``: the same file as the repository's
``controlplane`` inventory plugin, under the name a collection gives it. It is assembled in a scratch
directory (``galaxy.yml``, ``meta/runtime.yml``, ``plugins/inventory/inventory.py``, a README) and packed
with ``ansible-galaxy collection build``::

    python tools/build_collection.py [--output-dir build/collection]
    ansible-galaxy collection install build/collection/controlplane-controlplane-<version>.tar.gz

The plugin imports the ``controlplane`` Python package, so the Python that runs Ansible must have it
installed (``pip install controlplane``, or the repository's virtualenv).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "inventory_plugins" / "controlplane.py"
NAMESPACE, NAME = "controlplane", "controlplane"
README = """# controlplane.controlplane

The Ansible inventory of every guest and Proxmox node a controlplane installation manages, read from its
PostgreSQL database. Name the inventory file `controlplane.yml` (or `*.controlplane.yml`):

```yaml
plugin: controlplane.controlplane.inventory
```

`ansible-doc -t inventory controlplane.controlplane.inventory` lists the options. The plugin imports the
`controlplane` Python package: install it into the Python that runs Ansible.
"""


def project_version() -> str:
    """The version of the Python project, which the collection shares."""
    return str(tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"])


def galaxy_yml(version: str) -> str:
    """The collection's ``galaxy.yml``."""
    return (
        f"namespace: {NAMESPACE}\nname: {NAME}\nversion: {version}\nreadme: README.md\n"
        "authors: [controlplane]\n"
        "description: Dynamic inventory of the guests and Proxmox nodes managed by controlplane\n"
        "license: [Apache-2.0]\ntags: [proxmox, inventory, cloud]\ndependencies: {}\n"
        "build_ignore: ['*.tar.gz']\n"
    )


def collection_plugin_source() -> str:
    """The plugin file as the collection ships it: documented under its collection name ``inventory``."""
    text = PLUGIN.read_text()
    renamed, count = re.subn(r"(?m)^name: controlplane$", "name: inventory", text, count=1)
    if count != 1:
        raise SystemExit(f"{PLUGIN}: DOCUMENTATION has no `name: controlplane` line to rename")
    return renamed


def assemble(root: Path, version: str) -> Path:
    """Write the collection's source tree under ``root``; returns its directory."""
    src = root / "ansible_collections" / NAMESPACE / NAME
    (src / "plugins" / "inventory").mkdir(parents=True)
    (src / "meta").mkdir()
    (src / "galaxy.yml").write_text(galaxy_yml(version))
    (src / "meta" / "runtime.yml").write_text("requires_ansible: '>=2.15.0'\n")
    (src / "README.md").write_text(README)
    (src / "plugins" / "inventory" / "inventory.py").write_text(collection_plugin_source())
    return src


def build(output_dir: Path, ansible_galaxy: str | None = None) -> Path:
    """Build the collection tarball into ``output_dir``; returns its path."""
    beside = Path(sys.executable).parent / "ansible-galaxy"
    galaxy = ansible_galaxy or (str(beside) if beside.is_file() else shutil.which("ansible-galaxy") or "ansible-galaxy")
    version = project_version()
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="collection-") as scratch:
        src = assemble(Path(scratch), version)
        subprocess.run([galaxy, "collection", "build", "--force", "--output-path", str(output_dir), str(src)],
                       check=True, stdout=subprocess.DEVNULL)
    tarball = output_dir / f"{NAMESPACE}-{NAME}-{version}.tar.gz"
    if not tarball.is_file():
        raise SystemExit(f"ansible-galaxy did not write {tarball}")
    return tarball


def main(argv: list[str] | None = None) -> None:
    """Command line: build the collection and print the tarball's path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=REPO / "build" / "collection")
    args = parser.parse_args(argv)
    print(build(args.output_dir))


if __name__ == "__main__":
    main()
