"""The converge path of a run (the object exists and is not being deleted): record intent, adopt a guest
a crashed run created, apply with OpenTofu, reach the desired power, configure, and write Ready."""

from __future__ import annotations

from controlplane.drivers.proxmox_observe import ProxmoxAccess, guest_status
from controlplane.drivers.proxmox_power import destroy_guest
from controlplane.drivers.terraform import GuestModule
from controlplane.errors import TemporaryError

from . import store
from .conditions import DRIFTED, PROVISIONED, READY, get_condition, set_condition
from .configure import ConfigurationFailed, configure_step
from .context import RunContext
from .credentials import ClusterCredentials, load_cluster
from .intent import record_intent
from .kinds import workspace
from .power import converge_power
from .runlog import RunRecorder
from .store import ManagedObject, system_tx
from .terraform_run import Outcome, applied_digest, converge, skipped_plan
from .translate import module_variables


def _adopt_needed(ctx: RunContext, obj: ManagedObject, access: ProxmoxAccess, run: RunRecorder) -> bool:
    """With a pending create: does the guest exist already (a crashed run created it)? A different guest
    holding the VMID makes the intent void: it is dropped and the run retried with a new VMID."""
    if not obj.status.get("create_pending"):
        return False
    vmid, node = int(obj.status["vmid"]), str(obj.status["node"])
    current = guest_status(access, obj.kind.name, node, vmid)
    if current is None:
        return False
    if current.get("name") not in (obj.name, None):
        for key in ("vmid", "node", "create_pending", "placement"):
            obj.status.pop(key, None)
        with system_tx(ctx.engine) as conn:
            store.write_status(conn, obj)
        raise TemporaryError(f"VMID {vmid} is taken by another guest ({current.get('name')}); choosing again",
                             component="proxmox", delay=0.0)
    if not obj.kind.importable:
        # An import would plan a replace (and the provider's destroy of an imported container fails at
        # once). The guest is one a run of ours began and never finished, so nothing in it is the user's yet.
        run.log(f"CT {vmid} exists already on {node}, left by a run that did not finish: removing it to create "
                "it again (a container cannot be imported)")
        destroy_guest(access, obj.kind.name, node, vmid)
        return False
    run.log(f"VMID {vmid} exists already on {node}: adopting it into the workspace instead of creating it")
    return True


PLAN_VERBS = (("create", "created"), ("update", "changed in place"), ("replace", "replaced"), ("delete", "destroyed"))


def plan_message(counts: dict[str, int]) -> str:
    """A plan's counts in words: ``OpenTofu: 1 resource created`` (or ``nothing to change``)."""
    parts = [f"{n} resource{'' if n == 1 else 's'} {verb}"
             for key, verb in PLAN_VERBS if (n := int(counts.get(key, 0)))]
    return "OpenTofu: " + (", ".join(parts) if parts else "nothing to change")


def _action(plan: dict[str, object], adopt: bool) -> str:
    counts = plan["counts"]
    assert isinstance(counts, dict)
    if adopt or counts["create"]:
        return "create"
    return "update" if counts["update"] or counts["replace"] else "reconcile"


def _in_sync(access: ProxmoxAccess, obj: ManagedObject) -> bool:
    """Does Proxmox show the guest as its last apply left it (there, of its kind and name, with the
    spec's cores and memory) and no drift is on record? One status read, no OpenTofu."""
    if obj.status.get("drift") or (get_condition(obj.conditions, DRIFTED) or {}).get("status") == "True":
        return False
    current = guest_status(access, obj.kind.name, str(obj.status["node"]), int(obj.status["vmid"]))
    if current is None or current.get("name") not in (obj.name, None):
        return False
    cores, memory = int(obj.spec.get("cores", 1)), int(obj.spec.get("memory_mb", 1024))
    return int(current.get("cpus") or cores) == cores and int(current.get("maxmem") or 0) >> 20 in (0, memory)


def _provision(ctx: RunContext, obj: ManagedObject, guest: GuestModule, creds: ClusterCredentials,
               run: RunRecorder, adopt: bool) -> Outcome:
    """Run OpenTofu for ``guest``, unless the spec, the modules and the observed guest are exactly what the
    last successful apply recorded (``status.applied_digest``): then nothing starts and nothing changes."""
    digest = applied_digest(ctx.terraform, guest)
    if not adopt and obj.status.get("applied_digest") == digest and _in_sync(creds.access, obj):
        run.log("OpenTofu not run: the spec, the modules and the observed guest are as last applied")
        plan = skipped_plan()
        run.note(plan=plan, adopt=False)  # recorded with the end of the run, like a plan that changes nothing
        return Outcome(plan=plan, outputs={}, applied=False)
    outcome = converge(ctx.terraform, guest, workspace(obj.kind, obj.id), creds.terraform, run, adopt=adopt,
                       cancel=ctx.cancel)
    obj.status["applied_digest"] = digest
    return outcome


def converge_object(ctx: RunContext, obj: ManagedObject, run: RunRecorder) -> None:
    """Make the guest match its spec; raises TemporaryError / PermanentError on failure. The status it
    reaches is written by the caller with the end of the run (in the same transaction); it is written here
    only before a step that can take long (configuring the guest), so that it shows meanwhile."""
    with system_tx(ctx.engine) as conn:
        creds = load_cluster(conn, obj.cluster_id, ctx.vault, ctx.data_dir, ctx.gateway,
                             route=str(run.id))
    if obj.status.get("vmid") is None:
        record_intent(ctx, obj, creds, run)
    adopt = _adopt_needed(ctx, obj, creds.access, run)
    vmid, node = int(obj.status["vmid"]), str(obj.status["node"])
    guest = GuestModule(obj.kind.name, module_variables(obj, vmid, node, agent_timeout=ctx.agent_timeout))
    outcome = _provision(ctx, obj, guest, creds, run, adopt)
    run.set_action(_action(outcome.plan, adopt))
    out = outcome.outputs
    obj.status.update(vmid=int(out.get("vm_id") or vmid), node=str(out.get("node_name") or node),
                      ipv4=out.get("ipv4_address") or obj.status.get("ipv4"),
                      mac=out.get("mac_address") or obj.status.get("mac"))
    obj.status.pop("create_pending", None)
    obj.conditions = set_condition(obj.conditions, PROVISIONED, True, "Applied" if outcome.applied else "UpToDate",
                                   plan_message(outcome.plan["counts"]))
    run.note(timings={**run.summary.get("timings", {}), **outcome.timings})

    obj.status["power"] = converge_power(creds.access, obj, run, ctx.engine, timeout=ctx.power_timeout)
    if obj.spec.get("configure") and ctx.configure is not None:
        with system_tx(ctx.engine) as conn:
            store.write_status(conn, obj)
    try:
        configure_step(ctx, obj, run, creds.access)
    except ConfigurationFailed as exc:
        # Provisioned and powered as asked, but the play failed: this generation is observed (drift is
        # still watched); the failure is shown and not retried until the spec or the playbook changes.
        obj.conditions = set_condition(obj.conditions, READY, False, "ConfigurationFailed", exc.message)
        with system_tx(ctx.engine) as conn:
            store.write_status(conn, obj, observed_generation=obj.generation)
        raise
    for key in ("stalled_generation", "drift", "last_error"):
        obj.status.pop(key, None)
    obj.conditions = set_condition(obj.conditions, DRIFTED, False, "InSync", "")
    obj.conditions = set_condition(obj.conditions, READY, True, "Reconciled", "")
