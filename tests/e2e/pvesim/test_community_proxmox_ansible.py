"""Proof with real clients: ansible-core and the community.proxmox collection against pvesim.

The ``ansible-playbook`` and ``ansible-inventory`` executables of the project's virtualenv run as
subprocesses: ``proxmox_kvm`` and ``proxmox`` (LXC) go through present, started, stopped and absent (each
step followed by a read of ``/cluster/resources`` recorded by the playbook, and the simulator's own state
checked afterwards), and the ``community.proxmox.proxmox`` inventory plugin lists every guest, with and
without ``want_facts``. Credentials travel in the environment only; every Ansible setting is hermetic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

from controlplane.pvesim import Simulator
from tests.fixtures.pvesim import SimClient
from tests.integration.ansible.runner import ansible_env, run

BIN = Path(sys.executable).parent
PYTHON = str(BIN / "python")
TEMPLATE = "local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst"
STEPS = ("present", "present", "started", "started", "stopped", "absent", "absent")
EXPECT_CHANGED = (True, False, True, False, True, True, False)


def community_env(sim: Simulator, tmp: Path) -> dict[str, str]:
    """Environment for an Ansible subprocess: hermetic settings plus the simulator's address and token."""
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    (tmp / "ansible.cfg").write_text("[defaults]\n")
    return ansible_env(
        HOME=str(home),
        ANSIBLE_CONFIG=str(tmp / "ansible.cfg"),
        ANSIBLE_LOCAL_TEMP=str(tmp / "local-tmp"),
        ANSIBLE_REMOTE_TEMP=str(tmp / "remote-tmp"),
        ANSIBLE_INVENTORY_ENABLED="community.proxmox.proxmox,ansible.builtin.ini,ansible.builtin.host_list",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_HOST_KEY_CHECKING="false",
        ANSIBLE_DEPRECATION_WARNINGS="false",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_FAILED="true",  # a plugin error must fail the run, not empty the inventory
        ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="true",
        ANSIBLE_PYTHON_INTERPRETER=PYTHON,
        ANSIBLE_ROLES_PATH=str(tmp / "roles"),
        ANSIBLE_COLLECTIONS_PATH=str(tmp / "collections"),  # the collections of the virtualenv only
        ANSIBLE_CACHE_PLUGIN="memory",
        ANSIBLE_INVENTORY_CACHE="false",
        REQUESTS_CA_BUNDLE=sim.ca_file,
        PROXMOX_HOST="127.0.0.1",
        PROXMOX_PORT=str(sim.port),
        PROXMOX_USER="root@pam",
        PROXMOX_TOKEN_ID=sim.token_name,
        PROXMOX_TOKEN_SECRET=sim.token_secret,
        PROXMOX_VALIDATE_CERTS="true",
    )


def api_get(name: str, path: str, register: str) -> dict[str, Any]:
    """A ``uri`` task reading ``/api2/json<path>`` with the token from the environment."""
    return {
        "name": name,
        "ansible.builtin.uri": {
            "url": "https://127.0.0.1:{{ lookup('env', 'PROXMOX_PORT') }}/api2/json" + path,
            "headers": {
                "Authorization": "PVEAPIToken={{ lookup('env', 'PROXMOX_USER') }}!"
                "{{ lookup('env', 'PROXMOX_TOKEN_ID') }}={{ lookup('env', 'PROXMOX_TOKEN_SECRET') }}"
            },
            "ca_path": "{{ lookup('env', 'REQUESTS_CA_BUNDLE') }}",
            "return_content": True,
        },
        "register": register,
    }


def lifecycle_playbook(module: str, args: dict[str, Any], config_path: str, results: Path) -> list[dict[str, Any]]:
    """A localhost play running ``module`` through :data:`STEPS`; after each step it records the module
    result and ``GET /cluster/resources?type=vm`` (after the first also the guest's ``config_path``) through
    ``uri``; finally writes the records to ``results``."""
    tasks: list[dict[str, Any]] = []
    for i, state in enumerate(STEPS):
        tasks.append({"name": f"step {i} {state}", module: {**args, "state": state}, "register": f"step{i}"})
        tasks.append(api_get(f"resources after step {i}", "/cluster/resources?type=vm", f"seen{i}"))
        if i == 0:
            tasks.append(api_get("config after create", config_path, "created_config"))
    record = [{"result": f"{{{{ step{i} }}}}", "seen": f"{{{{ seen{i}.json.data }}}}"} for i in range(len(STEPS))]
    record[0]["config"] = "{{ created_config.json.data }}"
    tasks.append(
        {
            "name": "write results",
            "ansible.builtin.copy": {"content": "{{ record | to_json }}", "dest": str(results)},
            "vars": {"record": record},
        }
    )
    return [
        {
            "name": f"{module} life cycle",
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": PYTHON},
            "tasks": tasks,
        }
    ]


def run_lifecycle(sim: Simulator, tmp: Path, module: str, args: dict[str, Any], vmid: int) -> list[dict[str, Any]]:
    """Write and run the life-cycle playbook for guest ``vmid``; returns the per-step records."""
    results = tmp / "results.json"
    playbook = tmp / "site.yml"
    kind = "qemu" if module.endswith("_kvm") else "lxc"
    config_path = f"/nodes/{args['node']}/{kind}/{vmid}/config"
    playbook.write_text(yaml.safe_dump(lifecycle_playbook(module, args, config_path, results), sort_keys=False))
    run("ansible-playbook", "-i", "localhost,", str(playbook), env=community_env(sim, tmp), cwd=tmp)
    records: list[dict[str, Any]] = json.loads(results.read_text())
    assert len(records) == len(STEPS)
    return records


def check_steps(records: list[dict[str, Any]], vmid: int, kind: str) -> None:
    """Each step's ``changed`` flag and the guest's presence/status right after it."""
    for i, (state, changed, rec) in enumerate(zip(STEPS, EXPECT_CHANGED, records, strict=True)):
        result = rec["result"]
        assert not result.get("failed"), (i, state, result)
        assert result["changed"] is changed, (i, state, result)
        seen = [r for r in rec["seen"] if r["vmid"] == vmid]
        if state == "absent":
            assert seen == [], (i, seen)
            continue
        assert len(seen) == 1 and seen[0]["type"] == kind, (i, seen)
        want = {"present": "stopped", "started": "running", "stopped": "stopped"}[state]
        assert seen[0]["status"] == want, (i, state, seen[0])


def test_proxmox_kvm_lifecycle(pvesim_factory: Any, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=2, guests=3, seed=5)
    before = set(sim.state.guests)
    vmid = sim.state.next_vmid()  # no vmid given: the module looks the name up and asks /cluster/nextid
    args = {
        "node": "pve2",
        "name": "ans-vm1",
        "cores": 2,
        "sockets": 1,
        "memory": 1024,
        "ostype": "l26",
        "scsihw": "virtio-scsi-single",
        "scsi": {"scsi0": "local-lvm:4,iothread=1"},
        "net": {"net0": "virtio,bridge=vmbr0"},
        "agent": "enabled=1",
        "onboot": False,
    }
    records = run_lifecycle(sim, tmp_path, "community.proxmox.proxmox_kvm", args, vmid)
    check_steps(records, vmid, "qemu")
    created = records[0]["result"]
    assert created["vmid"] == vmid and created["msg"] == f"VM ans-vm1 with vmid {vmid} deployed", created
    assert created["devices"] == {"scsi0": f"local-lvm:vm-{vmid}-disk-0"}, created
    assert created["mac"]["net0"].startswith("BC:24:11:"), created
    msgs = [rec["result"].get("msg") for rec in records]
    assert msgs[1:6] == [
        f"VM with vmid <{vmid}> already exists",
        f"VM {vmid} started",
        f"VM {vmid} is already running",
        f"VM {vmid} is shutting down",
        f"VM {vmid} removed",
    ], msgs
    config = records[0]["config"]
    assert config["name"] == "ans-vm1" and config["memory"] == "1024" and config["cores"] == 2, config
    assert config["scsi0"] == f"local-lvm:vm-{vmid}-disk-0,iothread=1,size=4G", config
    assert config["net0"] == f"virtio={created['mac']['net0']},bridge=vmbr0" and config["agent"] == "enabled=1", config
    assert vmid not in sim.state.guests and set(sim.state.guests) == before
    assert not [v for v in sim.state.volumes.values() if v.vmid == vmid]


def test_proxmox_lxc_lifecycle(pvesim_factory: Any, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=1, guests=2, seed=5)
    before = set(sim.state.guests)
    vmid = 400
    args = {
        "node": "pve1",
        "vmid": vmid,
        "hostname": "ans-ct1",
        "ostemplate": TEMPLATE,
        "password": "Secret-123",
        "cores": 1,
        "memory": 512,
        "swap": 0,
        "disk": "local-lvm:4",
        "netif": {"net0": "name=eth0,bridge=vmbr0,ip=dhcp"},
        "unprivileged": True,
    }
    records = run_lifecycle(sim, tmp_path, "community.proxmox.proxmox", args, vmid)
    check_steps(records, vmid, "lxc")
    msgs = [rec["result"]["msg"] for rec in records]
    assert msgs[0] == f"Created VM ans-ct1 ({vmid}) from template {TEMPLATE}", msgs
    assert msgs[2:] == [
        f"VM ans-ct1 ({vmid}) {m}"
        for m in ("started.", "is already running.", "stopped.", "removed.", "is already absent.")
    ], msgs
    config = records[0]["config"]
    assert config["hostname"] == "ans-ct1" and config["memory"] == 512 and config["unprivileged"] == 1, config
    assert config["rootfs"] == f"local-lvm:vm-{vmid}-disk-0,size=4G", config
    assert config["net0"].startswith("name=eth0,bridge=vmbr0,hwaddr=BC:24:11:"), config
    assert vmid not in sim.state.guests and set(sim.state.guests) == before


def guest_name(guest: Any) -> str:
    """The inventory host name of a simulated guest (qemu ``name``, lxc ``hostname``)."""
    return str(guest.config["name" if guest.kind == "qemu" else "hostname"])


def inventory_list(sim: Simulator, tmp: Path, want_facts: bool, password: bool = False, **extra: Any) -> dict[str, Any]:
    """``ansible-inventory --list`` over a ``*.proxmox.yml`` file for ``sim`` (``extra`` plugin options);
    the token secret (or with ``password`` root@pam's password, for a ticket login) comes from the env."""
    source = tmp / f"{'facts' if want_facts else 'plain'}{'-password' if password else ''}.proxmox.yml"
    options: dict[str, Any] = {
        "plugin": "community.proxmox.proxmox",
        "url": sim.url,
        "user": "root@pam",
        "validate_certs": True,
        "want_facts": want_facts,
        **extra,
    }
    env = community_env(sim, tmp)
    if password:
        env["PROXMOX_PASSWORD"] = sim.password
        del env["PROXMOX_TOKEN_SECRET"]
    else:
        options["token_id"] = sim.token_name
    source.write_text(yaml.safe_dump(options))
    proc = run("ansible-inventory", "-i", str(source), "--list", env=env, cwd=tmp)
    listing: dict[str, Any] = json.loads(proc.stdout, object_hook=unwrap_unsafe)
    return listing


def unwrap_unsafe(obj: dict[str, Any]) -> Any:
    """``json`` object hook: ansible-inventory marks plugin-supplied strings as ``{"__ansible_unsafe": s}``."""
    return obj["__ansible_unsafe"] if set(obj) == {"__ansible_unsafe"} else obj


def members(listing: dict[str, Any], group: str) -> set[str]:
    """Hosts directly in ``group`` of an ``ansible-inventory --list`` document."""
    return set(listing.get(group, {}).get("hosts", []))


def test_inventory_plugin_lists_every_guest(pvesim_factory: Any, tmp_path: Path) -> None:
    sim = pvesim_factory(nodes=2, guests=10, seed=5)
    client = SimClient(sim)
    guests = list(sim.state.guests.values())
    listed = [g for g in guests if not g.config.get("template")]
    assert len(listed) < len(guests), "the seed must include a template, which the inventory skips"
    pool_members = sorted(g.vmid for g in listed)[:3]
    client.data("POST", "/pools", data={"poolid": "web", "comment": "inventory proof"})
    client.data("PUT", "/pools/web", data={"vms": ",".join(map(str, pool_members))})
    agent_vm = next(g for g in listed if g.kind == "qemu" and g.status == "running" and g.config["agent"] == "1")
    sim.set_guest_ip(agent_vm.vmid, "127.0.0.1")

    def expect_groups(listing: dict[str, Any]) -> None:
        hostvars = listing["_meta"]["hostvars"]
        assert set(hostvars) - set(sim.state.nodes) == {guest_name(g) for g in listed}
        assert members(listing, "proxmox_nodes") == set(sim.state.nodes)
        for kind in ("qemu", "lxc"):
            assert members(listing, f"proxmox_all_{kind}") == {guest_name(g) for g in listed if g.kind == kind}
            for node in sim.state.nodes:
                want = {guest_name(g) for g in listed if g.kind == kind and g.node == node}
                assert members(listing, f"proxmox_{node}_{kind}") == want, (node, kind)
        for status in ("running", "stopped"):
            assert members(listing, f"proxmox_all_{status}") == {guest_name(g) for g in listed if g.status == status}
        assert members(listing, "proxmox_pool_web") == {guest_name(sim.state.guests[v]) for v in pool_members}
        for g in listed:
            facts = hostvars[guest_name(g)]
            assert (facts["proxmox_vmid"], facts["proxmox_node"], facts["proxmox_vmtype"]) == (g.vmid, g.node, g.kind)

    nodes, pools = len(sim.state.nodes), 1
    sim.stats.reset()
    plain = inventory_list(sim, tmp_path, want_facts=False)
    expect_groups(plain)
    # one /nodes, lxc+qemu lists per node, /pools and each pool: the documented flat cost
    assert sim.stats.total() == 1 + 2 * nodes + 1 + pools, sim.stats.snapshot()
    assert client.data("GET", "/_sim/stats")["total"] == 1 + 2 * nodes + 1 + pools
    assert not any("proxmox_status" in v for v in plain["_meta"]["hostvars"].values())
    assert inventory_list(sim, tmp_path, want_facts=False, password=True) == plain

    sim.stats.reset()
    facts = inventory_list(
        sim, tmp_path, want_facts=True, qemu_extended_statuses=True, want_proxmox_nodes_ansible_host=True
    )
    expect_groups(facts)
    per_guest = 3 * len(listed)  # status/current, config, snapshot
    running_cts = sum(1 for g in listed if g.kind == "lxc" and g.status == "running")
    agents = sum(1 for g in listed if g.kind == "qemu" and g.config["agent"] == "1")
    want_calls = 1 + 3 * nodes + 1 + pools + per_guest + running_cts + agents
    assert sim.stats.total() == want_calls, sim.stats.snapshot()
    hostvars = facts["_meta"]["hostvars"]
    for node in sim.state.nodes.values():
        assert hostvars[node.name]["ansible_host"] == node.ip, hostvars[node.name]
    assert members(facts, "proxmox_all_paused") == members(facts, "proxmox_all_prelaunch") == set()
    for g in listed:
        fv = hostvars[guest_name(g)]
        assert fv["proxmox_status"] == g.status, (g.vmid, fv)
        assert fv["proxmox_cores"] == g.config["cores"] and fv["proxmox_snapshots"] == [], (g.vmid, fv)
        if g.kind == "qemu":
            assert fv["proxmox_qmpstatus"] == g.status and fv["proxmox_name"] == g.config["name"], (g.vmid, fv)
            assert fv["proxmox_scsi0"]["disk_image"] == g.config["scsi0"].split(",")[0], (g.vmid, fv)
        else:
            assert fv["proxmox_hostname"] == g.config["hostname"], (g.vmid, fv)
            assert fv["proxmox_rootfs"]["disk_image"] == g.config["rootfs"].split(",")[0], (g.vmid, fv)
            assert ("proxmox_lxc_interfaces" in fv) == (g.status == "running"), (g.vmid, fv)
    lxc_running = next(g for g in listed if g.kind == "lxc" and g.status == "running")
    eth0 = next(i for i in hostvars[guest_name(lxc_running)]["proxmox_lxc_interfaces"] if i["name"] == "eth0")
    assert eth0["hwaddr"] == lxc_running.config["net0"].split("hwaddr=")[1].split(",")[0].lower(), eth0
    assert eth0["inet"].endswith("/24"), eth0
    agent_ifaces = hostvars[guest_name(agent_vm)]["proxmox_agent_interfaces"]
    assert any("127.0.0.1/24" in i["ip-addresses"] for i in agent_ifaces), agent_ifaces

    sim.state.set_node_online("pve2", False)
    partial = inventory_list(sim, tmp_path, want_facts=False)
    assert members(partial, "proxmox_nodes") == set(sim.state.nodes)
    assert set(partial["_meta"]["hostvars"]) == {guest_name(g) for g in listed if g.node == "pve1"}
    assert members(partial, "proxmox_pve2_qemu") == members(partial, "proxmox_pve2_lxc") == set()


def test_modules_update_options_and_forced_delete_with_ticket(pvesim_factory: Any, tmp_path: Path) -> None:
    """``update: true`` on both modules, LXC ``disk_volume``/``mount_volumes``/``features``/``tags``, and
    ``absent`` with ``force`` on a running container, logging in with a password (ticket) this time."""
    sim = pvesim_factory(nodes=1)
    kvm = {"node": "pve1", "vmid": 310, "name": "upd-vm", "cores": 1, "memory": 512, "tags": ["web", "Prod"]}
    lxc = {
        "node": "pve1",
        "vmid": 410,
        "hostname": "upd-ct",
        "ostemplate": TEMPLATE,
        "memory": 256,
        "disk_volume": {"storage": "local-lvm", "size": 3},
        "mount_volumes": [{"id": "mp0", "storage": "local-lvm", "size": 1, "mountpoint": "/srv"}],
        "features": ["nesting=1"],
        "tags": ["Web", "db"],
        "netif": {"net0": "name=eth0,bridge=vmbr0,ip=dhcp"},
    }
    steps: list[tuple[str, dict[str, Any]]] = [
        ("community.proxmox.proxmox_kvm", kvm),
        ("community.proxmox.proxmox_kvm", {**kvm, "cores": 2, "tags": ["web", "db"], "update": True}),
        ("community.proxmox.proxmox", lxc),
        ("community.proxmox.proxmox", {**lxc, "memory": 1024, "update": True}),
        ("community.proxmox.proxmox", {"vmid": 410, "state": "started"}),
        ("community.proxmox.proxmox", {"vmid": 410, "state": "absent", "force": True}),
    ]
    tasks = [{"name": f"step {i}", module: args, "register": f"step{i}"} for i, (module, args) in enumerate(steps)]
    results = tmp_path / "results.json"
    record = "[" + ", ".join(f"step{i}" for i in range(len(steps))) + "] | to_json"
    tasks.append(
        {"name": "write results", "ansible.builtin.copy": {"content": "{{ " + record + " }}", "dest": str(results)}}
    )
    tasks.insert(5, api_get("ct config", "/nodes/pve1/lxc/410/config", "ct_config"))
    tasks.insert(3, api_get("vm config", "/nodes/pve1/qemu/310/config", "vm_config"))
    tasks.append(
        {
            "name": "write configs",
            "ansible.builtin.copy": {
                "content": "{{ [vm_config.json.data, ct_config.json.data] | to_json }}",
                "dest": str(tmp_path / "configs.json"),
            },
        }
    )
    play = [
        {
            "hosts": "localhost",
            "connection": "local",
            "gather_facts": False,
            "vars": {"ansible_python_interpreter": PYTHON},
            "tasks": tasks,
        }
    ]
    (tmp_path / "site.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    env = community_env(sim, tmp_path)
    env["PROXMOX_PASSWORD"] = sim.password  # the modules prefer it to the token (which ``uri`` keeps using)
    run("ansible-playbook", "-i", "localhost,", str(tmp_path / "site.yml"), env=env, cwd=tmp_path)
    outcome = json.loads(results.read_text())
    assert [r["changed"] for r in outcome] == [True] * 6, outcome
    assert outcome[5]["msg"] == "VM 410 removed.", outcome[5]
    assert sim.stats.count("POST", "/access/ticket") == len(steps)  # each module run logged in
    vm_config, ct_config = json.loads((tmp_path / "configs.json").read_text())
    assert vm_config["cores"] == 2 and vm_config["tags"] == "db;web", vm_config
    assert ct_config["memory"] == 1024 and ct_config["tags"] == "db;web" and ct_config["features"] == "nesting=1"
    assert ct_config["rootfs"] == "local-lvm:vm-410-disk-0,size=3G", ct_config
    assert ct_config["mp0"] == "local-lvm:vm-410-disk-1,mp=/srv,size=1G", ct_config
    assert sim.state.guests[310].config["tags"] == "db;web" and 410 not in sim.state.guests
    assert not [v for v in sim.state.volumes.values() if v.vmid == 410]
