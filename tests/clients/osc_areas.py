# The `openstack` CLI against a running Clinker, one check per API area.
# Usage: python3 tests/clients/osc_areas.py <endpoint .../v3/<project>> <admin:project>
#
# Each command runs through openstackclient's own entry point (`openstackclient.shell.main`,
# what the `openstack` script calls) inside this one process, because starting Python per
# command costs a second or more. The CLI keeps the first --os-volume-api-version it sees
# for the whole process, so the commands that need a microversion run in a second process
# (this script with `--phase micro`). Prints "ok <area>" per area; exits 1 at the first
# failure.
#
# What the CLI cannot do without Keystone and Nova (so it is not tested here; the
# openstacksdk script covers the same calls): `quota show/set` and `volume type set
# --project` look the project up in Keystone; `limits show` asks Nova for its limits first;
# `volume attachment create` looks the server up in Nova. What it has no command for:
# os-hosts (`volume host set/failover` are os-services calls), a group's reset_status.
import contextlib
import io
import json
import subprocess
import sys
import time
import uuid

import openstack
from openstackclient import shell

url, token = sys.argv[1], sys.argv[2]
phase = sys.argv[4] if len(sys.argv) > 4 and sys.argv[3] == "--phase" else "default"
base = ["--os-auth-type", "admin_token", "--os-token", token, "--os-endpoint", url]
if phase == "micro":
    base += ["--os-volume-api-version", "3.71"]


def osc(*args, fail=False, via=None):
    """Runs one CLI command (as `via`'s token and endpoint, else the admin's); answers
    its JSON output (None when it prints none)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = shell.main((via or base) + list(args))
        except SystemExit as e:
            rc = e.code
    if (rc != 0) != fail:
        raise AssertionError(f"openstack {' '.join(args)}: rc {rc}\n{err.getvalue()}")
    if fail:
        return err.getvalue()
    text = out.getvalue().strip()
    return json.loads(text) if text else None


def show(*args):
    return osc(*args, "-f", "json")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def wait(kind, name, want):
    for _ in range(600):
        shown = show(*kind, "show", name)
        # Volumes and snapshots print lower-case field names, groups capitalised ones.
        status = shown.get("status", shown.get("Status"))
        if status == want:
            return
        check(status != "error" or want == "error", f"{name} went to error")
        time.sleep(0.05)
    raise AssertionError(f"{name} never {want}")


def wait_gone(kind, names):
    for _ in range(600):
        if not [x for x in show(*kind, "list") if x["Name"] in names]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{names} never went away")


def done(area):
    print("ok", area, flush=True)


if phase == "default":
    # Volume types: create with properties, private, set/unset, list, show, delete.
    t = show("volume", "type", "create", "--property", "osc:tier=gold",
             "--description", "gold", "osc-gold")
    check(t["properties"] == {"osc:tier": "gold"} and t["is_public"], f"{t}")
    private = show("volume", "type", "create", "--private", "osc-private")
    check(private["is_public"] is False, f"{private}")
    osc("volume", "type", "set", "--property", "osc:speed=fast", "--description", "g2",
        "osc-gold")
    osc("volume", "type", "unset", "--property", "osc:tier", "osc-gold")
    t = show("volume", "type", "show", "osc-gold")
    check((t["properties"], t["description"]) == ({"osc:speed": "fast"}, "g2"), f"{t}")
    check(show("volume", "type", "show", "osc-private")["access_project_ids"] == [],
          "private access list")
    names = [x["Name"] for x in show("volume", "type", "list", "--long")]
    check({"osc-gold", "osc-private", "__DEFAULT__"} <= set(names), f"{names}")
    osc("volume", "type", "delete", "osc-private")
    osc("volume", "type", "show", "osc-private", fail=True)
    done("types")

    # QoS specs.
    q = show("volume", "qos", "create", "--consumer", "back-end",
             "--property", "read_iops_sec=100", "osc-qos")
    check(q["properties"] == {"read_iops_sec": "100"}, f"{q}")
    osc("volume", "qos", "associate", "osc-qos", "osc-gold")
    osc("volume", "qos", "set", "--property", "write_iops_sec=5", "osc-qos")
    q = show("volume", "qos", "show", "osc-qos")
    check(q["associations"] == ["osc-gold"], f"{q}")
    check(q["properties"] == {"read_iops_sec": "100", "write_iops_sec": "5"}, f"{q}")
    osc("volume", "qos", "unset", "--property", "write_iops_sec", "osc-qos")
    osc("volume", "qos", "disassociate", "--volume-type", "osc-gold", "osc-qos")
    check(not show("volume", "qos", "show", "osc-qos").get("associations"), "disassociated")
    check("osc-qos" in [x["Name"] for x in show("volume", "qos", "list")], "qos list")
    osc("volume", "qos", "delete", "osc-qos")
    done("qos")

    # Volumes and their actions.
    v = show("volume", "create", "--size", "1", "--type", "osc-gold", "--property", "k=v",
             "osc-vol")
    wait(["volume"], "osc-vol", "available")
    osc("volume", "set", "--size", "2", "osc-vol")
    wait(["volume"], "osc-vol", "available")
    osc("volume", "set", "--bootable", "--read-only", "--property", "p=1", "osc-vol")
    shown = show("volume", "show", "osc-vol")
    check((shown["size"], shown["bootable"]) == (2, True), f"{shown}")
    # Cinder shows the visible admin metadata (`readonly`) among the properties too.
    check(shown["properties"] == {"k": "v", "p": "1", "readonly": "True"}, f"{shown}")
    osc("volume", "unset", "--property", "k", "osc-vol")
    osc("volume", "set", "--state", "error", "osc-vol")
    check(show("volume", "show", "osc-vol")["status"] == "error", "reset state")
    osc("volume", "set", "--state", "available", "osc-vol")
    osc("volume", "set", "--non-bootable", "--read-write", "osc-vol")
    shown = show("volume", "show", "osc-vol")
    check(shown["bootable"] is False and shown["properties"] == {"p": "1", "readonly": "False"},
          f"{shown}")
    osc("volume", "set", "--type", "__DEFAULT__", "--migration-policy", "never", "osc-vol")
    check(show("volume", "show", "osc-vol")["type"] == "__DEFAULT__", "retype")
    clone = show("volume", "create", "--source", "osc-vol", "osc-clone")
    wait(["volume"], "osc-clone", "available")
    check(show("volume", "show", "osc-clone")["source_volid"] == v["id"], "clone source")
    err = osc("volume", "set", "--size", "1", "osc-clone", fail=True)
    check("size" in err.lower(), err)
    listed = [x["Name"] for x in show("volume", "list", "--long")]
    check({"osc-vol", "osc-clone"} <= set(listed), f"{listed}")
    done("volumes")

    # Snapshots.
    s = show("volume", "snapshot", "create", "--volume", "osc-vol", "--property", "a=1",
             "osc-snap")
    wait(["volume", "snapshot"], "osc-snap", "available")
    osc("volume", "snapshot", "set", "--name", "osc-snap2", "--description", "d",
        "--property", "b=2", "osc-snap")
    snap = show("volume", "snapshot", "show", "osc-snap2")
    check(snap["properties"] == {"a": "1", "b": "2"} and snap["description"] == "d",
          f"{snap}")
    osc("volume", "snapshot", "set", "--state", "error", "osc-snap2")
    check(show("volume", "snapshot", "show", "osc-snap2")["status"] == "error", "state")
    osc("volume", "snapshot", "set", "--state", "available", "osc-snap2")
    osc("volume", "snapshot", "unset", "--property", "a", "osc-snap2")
    copy = show("volume", "create", "--snapshot", "osc-snap2", "osc-copy")
    wait(["volume"], "osc-copy", "available")
    check(show("volume", "show", "osc-copy")["snapshot_id"] == s["id"], "copy source")
    check(s["id"] in [x["ID"] for x in show("volume", "snapshot", "list", "--long")],
          "snapshot list")
    err = osc("volume", "delete", "osc-vol", fail=True)
    check("snapshots" in err, err)
    done("snapshots")

    # Catalogue: zones, services (disable with a reason, enable), pools, capabilities.
    zones = show("availability", "zone", "list", "--volume")
    check([z["Zone Name"] for z in zones] == ["nova"], f"{zones}")
    services = show("volume", "service", "list")
    node = [x for x in services if x["Binary"] == "cinder-volume"][0]["Host"]
    osc("volume", "service", "set", "--disable", "--disable-reason", "osc maintenance",
        node, "cinder-volume")
    listed = show("volume", "service", "list", "--long")
    mine = [x for x in listed if x["Host"] == node][0]
    check((mine["Status"], mine["Disabled Reason"]) == ("disabled", "osc maintenance"),
          f"{mine}")
    osc("volume", "service", "set", "--enable", node, "cinder-volume")
    pools = show("volume", "backend", "pool", "list", "--long")
    check(pools and pools[0]["Name"].startswith(node), f"{pools}")
    check("total_capacity_gb" in json.dumps(pools[0]), f"{pools}")
    caps = show("volume", "backend", "capability", "show", node)
    check(caps and all("Key" in c for c in caps), f"{caps}")
    done("catalogue")

    # Transfers: offer (the key is printed once), list, show, a wrong key refused, the
    # accept into another project (its own token and endpoint), and an offer withdrawn.
    other = "0e0e0e0e"
    taker = ["--os-auth-type", "admin_token", "--os-token", "taker:" + other,
             "--os-endpoint", url.rsplit("/", 1)[0] + "/" + other]
    show("volume", "create", "--size", "1", "osc-gift")
    wait(["volume"], "osc-gift", "available")
    tr = show("volume", "transfer", "request", "create", "--name", "osc-gift-t", "osc-gift")
    check(len(tr["auth_key"]) == 16, f"{tr}")
    check(show("volume", "show", "osc-gift")["status"] == "awaiting-transfer", "awaiting")
    check(tr["id"] in [x["ID"] for x in show("volume", "transfer", "request", "list")],
          "transfer list")
    check("auth_key" not in show("volume", "transfer", "request", "show", tr["id"]),
          "the key is shown once")
    osc("volume", "transfer", "request", "accept", "--auth-key", "0" * 16, tr["id"],
        fail=True, via=taker)
    osc("volume", "transfer", "request", "accept", "--auth-key", tr["auth_key"], tr["id"],
        "-f", "json", via=taker)
    moved = osc("volume", "show", tr["volume_id"], "-f", "json", via=taker)
    check(moved["status"] == "available", f"{moved}")
    theirs = [x["ID"] for x in osc("volume", "list", "-f", "json", via=taker)]
    check(tr["volume_id"] in theirs, f"in the taker's list: {theirs}")
    show("volume", "create", "--size", "1", "osc-kept")
    wait(["volume"], "osc-kept", "available")
    kept = show("volume", "transfer", "request", "create", "osc-kept")
    osc("volume", "transfer", "request", "delete", kept["id"])
    check(show("volume", "show", "osc-kept")["status"] == "available", "withdrawn")
    osc("volume", "delete", tr["volume_id"], via=taker)
    osc("volume", "delete", "osc-kept")
    done("transfers")

    # Type encryption: create with the type, show, set; a volume of the type is encrypted
    # and freezes it; unset once the volume is gone.
    show("volume", "type", "create", "--encryption-provider", "luks",
         "--encryption-cipher", "aes-xts-plain64", "--encryption-key-size", "256",
         "--encryption-control-location", "front-end", "osc-luks")
    shown = show("volume", "type", "show", "--encryption-type", "osc-luks")
    check("luks" in json.dumps(shown.get("encryption")), f"{shown}")
    listed = {x["Name"]: x["Encryption"]
              for x in show("volume", "type", "list", "--encryption-type")}
    check("luks" in json.dumps(listed["osc-luks"]) and not listed["__DEFAULT__"], f"{listed}")
    osc("volume", "type", "set", "--encryption-control-location", "back-end", "osc-luks")
    shown = show("volume", "type", "show", "--encryption-type", "osc-luks")
    check("back-end" in json.dumps(shown.get("encryption")), f"{shown}")
    show("volume", "create", "--size", "1", "--type", "osc-luks", "osc-secret")
    wait(["volume"], "osc-secret", "available")
    check(show("volume", "show", "osc-secret")["encrypted"] is True, "encrypted")
    osc("volume", "type", "unset", "--encryption-type", "osc-luks", fail=True)
    osc("volume", "delete", "osc-secret")
    wait_gone(["volume"], ["osc-secret"])
    osc("volume", "type", "unset", "--encryption-type", "osc-luks")
    shown = show("volume", "type", "show", "--encryption-type", "osc-luks")
    check(not shown.get("encryption"), f"{shown}")
    osc("volume", "type", "delete", "osc-luks")
    done("encryption")

    # Backups need a backup service Clinker does not have.
    err = osc("volume", "backup", "list", fail=True)
    check("404" in err, err)
    done("backups absent")

    # Clean up.
    osc("volume", "snapshot", "delete", "osc-snap2")
    osc("volume", "delete", "osc-copy", "osc-clone")
    wait_gone(["volume", "snapshot"], ["osc-snap2"])
    osc("volume", "delete", "osc-vol")
    done("cleanup")
    # The microversion commands, in their own process.
    sys.exit(subprocess.run([sys.executable, sys.argv[0], url, token, "--phase", "micro"])
             .returncode)

# --os-volume-api-version 3.71: attachments, messages, summary, lists with new fields.
nowhere = show("volume", "type", "create", "--property",
               "capabilities:nowhere=<is> True", "osc-nowhere")
bad = show("volume", "create", "--size", "1", "--type", "osc-nowhere", "osc-nowhere")
wait(["volume"], "osc-nowhere", "error")
msgs = [m for m in show("volume", "message", "list") if m["Resource UUID"] == bad["id"]]
check(len(msgs) == 1, f"{msgs}")
check(msgs[0]["Event ID"] == "VOLUME_VOLUME_001_003", f"{msgs}")
check(msgs[0]["User Message"].startswith("schedule allocate volume:"), f"{msgs}")
# `message show` goes through openstacksdk, which reads the key "messages" where Cinder
# (and Clinker) answer {"message": ...}: every field but the id comes back empty.
check(show("volume", "message", "show", msgs[0]["ID"])["ID"] == msgs[0]["ID"], "show")
osc("volume", "message", "delete", msgs[0]["ID"])
check(not [x for x in show("volume", "message", "list") if x["ID"] == msgs[0]["ID"]],
      "message deleted")
done("messages")

v = show("volume", "create", "--size", "1", "osc-att")
wait(["volume"], "osc-att", "available")
# `volume attachment create` needs Nova to find the server, so the attachment is
# reserved through openstacksdk and then driven with the CLI.
sdk = openstack.connect(auth_type="admin_token", auth={"token": token, "endpoint": url},
                        block_storage_endpoint_override=url).block_storage
server = str(uuid.uuid4())
att = sdk.create_attachment(v["id"], instance=server)
listed = show("volume", "attachment", "list")
check([a["ID"] for a in listed] == [att.id], f"{listed}")
shown = show("volume", "attachment", "show", att.id)
check((shown["Status"], shown["Instance ID"]) == ("reserved", server), f"{shown}")
shown = show("volume", "attachment", "set", "--host", "osc-host", "--initiator",
             "iqn.2026-01.org.example:osc", "--ip", "127.0.0.1", att.id)
check(shown["Status"] == "attaching" and shown["Properties"], f"{shown}")
osc("volume", "attachment", "complete", att.id)
check(show("volume", "show", "osc-att")["status"] == "in-use", "attached")
osc("volume", "attachment", "delete", att.id)
check(show("volume", "show", "osc-att")["status"] == "available", "detached")
done("attachments")

# Group types (3.11) and groups (3.13): the CLI goes through openstacksdk for these.
gt = show("volume", "group", "type", "create", "--description", "grouped", "osc-gt")
check((gt["Name"], gt["Is Public"]) == ("osc-gt", True), f"{gt}")
show("volume", "group", "type", "set", "--property", "osc:a=1", "--property", "osc:b=2",
     "--description", "g2", "osc-gt")
shown = show("volume", "group", "type", "show", "osc-gt")
check((shown["Properties"], shown["Description"]) == ({"osc:a": "1", "osc:b": "2"}, "g2"),
      f"{shown}")
show("volume", "group", "type", "set", "--no-property", "--property", "osc:c=3", "osc-gt")
check(show("volume", "group", "type", "show", "osc-gt")["Properties"] == {"osc:c": "3"},
      "group specs replaced")
check("osc-gt" in [x["Name"] for x in show("volume", "group", "type", "list")], "listed")
# No default group type is configured: Cinder's 404, which the CLI reports as an error.
osc("volume", "group", "type", "list", "--default", fail=True)
done("group types")

g = show("volume", "group", "create", "--volume-group-type", "osc-gt", "--volume-type",
         "osc-gold", "--name", "osc-group", "--description", "first")
check((g["Name"], g["Group Type"]) == ("osc-group", gt["ID"]), f"{g}")
wait(["volume", "group"], g["ID"], "available")
check(g["ID"] in [x["ID"] for x in show("volume", "group", "list")], "group listed")
shown = show("volume", "group", "set", "--name", "osc-group2", "--description", "second",
             g["ID"])
check((shown["Name"], shown["Description"]) == ("osc-group2", "second"), f"{shown}")
shown = show("volume", "group", "show", "osc-group2")
check(shown["ID"] == g["ID"] and shown["Volume Types"] == [
    show("volume", "type", "show", "osc-gold")["id"]], f"{shown}")
# Clinker replicates nothing: Cinder's answer for a group type without replication.
err = osc("volume", "group", "set", "--enable-replication", "osc-group2", fail=True)
check("not a replication group type" in err, err)
osc("volume", "group", "type", "delete", "osc-gt", fail=True)
osc("volume", "group", "delete", "osc-group2")
wait_gone(["volume", "group"], ["osc-group2"])
osc("volume", "group", "type", "delete", "osc-gt")
osc("volume", "group", "type", "show", "osc-gt", fail=True)
done("groups")

summary = show("volume", "summary")
check(summary["Total Count"] >= 2 and summary["Total Size"] >= 2, f"{summary}")
done("summary")

osc("volume", "delete", "osc-att", "osc-nowhere")
wait_gone(["volume"], ["osc-att", "osc-nowhere"])
osc("volume", "type", "delete", "osc-nowhere")
osc("volume", "type", "delete", "osc-gold")
done("cleanup micro")
