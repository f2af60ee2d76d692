# openstacksdk's block_storage proxy against a running Clinker, one check per API area.
# Usage: python3 tests/clients/sdk_areas.py <endpoint .../v3/<project>> <admin:project>
# Prints "ok <area>" for each area that passed; stops at the first failure (exit 1).
import sys
import uuid

import openstack
from openstack import exceptions

url, token = sys.argv[1], sys.argv[2]
project = token.split(":", 1)[1]


def connect(tok):
    return openstack.connect(auth_type="admin_token",
                             auth={"token": tok, "endpoint": url},
                             block_storage_endpoint_override=url)


conn = connect(token)
bs = conn.block_storage
member = connect("member:" + project).block_storage


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def refused(status, fn, *args, **kwargs):
    """fn must fail with an HTTP error of this status."""
    try:
        fn(*args, **kwargs)
    except exceptions.HttpException as e:
        check(e.status_code == status, f"{fn.__name__}: {e.status_code} != {status}: {e}")
        return e
    raise AssertionError(f"{fn.__name__} should have answered {status}")


def available(resource):
    return bs.wait_for_status(resource, status="available", failures=["error"], wait=30)


def done(area):
    print("ok", area, flush=True)


# Volume types: create, show, find, extra specs, update, private type access, delete.
# (Scoped keys: the scheduler ignores them; an unscoped key must be a node capability.)
t = bs.create_type(name="sdk-gold", extra_specs={"sdk:tier": "gold"}, description="g")
check(bs.get_type(t.id).extra_specs == {"sdk:tier": "gold"}, "extra specs at create")
bs.update_type_extra_specs(t, **{"sdk:speed": "fast"})
check(bs.get_type(t).extra_specs == {"sdk:tier": "gold", "sdk:speed": "fast"}, "extra specs set")
bs.delete_type_extra_specs(t, ["sdk:tier"])
check(bs.get_type(t).extra_specs == {"sdk:speed": "fast"}, "extra spec unset")
bs.update_type(t, description="gold tier")
check(bs.find_type("sdk-gold").description == "gold tier", "type update")
private = bs.create_type(name="sdk-private", is_public=False)
other = uuid.uuid4().hex
bs.add_type_access(private, other)
check([a["project_id"] for a in bs.get_type_access(private)] == [other], "type access")
bs.remove_type_access(private, other)
check(bs.get_type_access(private) == [], "type access removed")
check("sdk-private" in [x.name for x in bs.types(is_public=False)], "private types listed")
check("sdk-private" not in [x.name for x in member.types()], "members miss private types")
bs.delete_type(private)
refused(404, bs.get_type, private.id)
done("types")

# QoS specs: create, update keys, associate with a type, list associations, disassociate.
# Cinder takes the specs as flat keys beside name and consumer (a nested dict is a 400).
refused(400, bs.create_qos_spec, name="sdk-bad", specs={"read_iops_sec": "100"})
q = bs.create_qos_spec(name="sdk-qos", consumer="back-end", read_iops_sec="100")
bs.update_qos_spec(q, write_iops_sec="50")
shown = bs.get_qos_spec(q)
check(shown.specs == {"read_iops_sec": "100", "write_iops_sec": "50"}, f"qos specs {shown.specs}")
bs.associate_qos_spec(q, t.id)
check([a["id"] for a in bs.qos_spec_associations(q)] == [t.id], "qos association")
bs.disassociate_qos_spec(q, t.id)
check(list(bs.qos_spec_associations(q)) == [], "qos disassociated")
bs.delete_qos_spec_metadata(q, ["write_iops_sec"])
check(bs.get_qos_spec(q).specs == {"read_iops_sec": "100"}, "qos key deleted")
bs.delete_qos_spec(q)
refused(404, bs.get_qos_spec, q.id)
done("qos")

# Volumes and their actions.
v = available(bs.create_volume(size=1, name="sdk-vol", volume_type="sdk-gold",
                               metadata={"k": "v"}))
check(v.volume_type == "sdk-gold", "volume type")
bs.extend_volume(v, 2)
v = available(bs.get_volume(v))
check(v.size == 2, f"extend: size {v.size}")
bs.set_volume_bootable_status(v, True)
check(bs.get_volume(v).is_bootable, "bootable")
bs.set_volume_readonly(v, True)
bs.set_volume_metadata(v, purpose="test")
check(bs.get_volume_metadata(v).metadata == {"k": "v", "purpose": "test"}, "metadata")
bs.delete_volume_metadata(v, ["k"])
check(bs.get_volume_metadata(v).metadata == {"purpose": "test"}, "metadata key deleted")
bs.reset_volume_status(v, "error", None, None)
check(bs.get_volume(v).status == "error", "reset status")
bs.reset_volume_status(v, "available", None, None)
refused(403, member.reset_volume_status, v, "error", None, None)
bs.reserve_volume(v)
check(bs.get_volume(v).status == "attaching", "reserve")
bs.unreserve_volume(v)
check(bs.get_volume(v).status == "available", "unreserve")
refused(400, bs.complete_volume_extend, v)
bs.retype_volume(v, "__DEFAULT__")
v = available(bs.get_volume(v))
check(v.volume_type == "__DEFAULT__", f"retype: {v.volume_type}")
clone = available(bs.create_volume(source_volume_id=v.id, name="sdk-clone"))
check(clone.source_volume_id == v.id and clone.size == 2, "clone")
check(clone.is_bootable, "a clone of a bootable volume is bootable")
names = {x.name for x in bs.volumes(details=True)}
check({"sdk-vol", "sdk-clone"} <= names, f"volume list {names}")
summary = bs.summary(False)
check(summary.total_count >= 2 and summary.total_size >= 4, f"summary {summary}")
done("volumes")

# Snapshots: create, metadata, update, reset status, revert, copy.
s = available(bs.create_snapshot(volume_id=v.id, name="sdk-snap", metadata={"a": "1"}))
bs.update_snapshot(s, description="first")
check(bs.get_snapshot(s).description == "first", "snapshot update")
bs.set_snapshot_metadata(s, b="2")
check(bs.get_snapshot_metadata(s).metadata == {"a": "1", "b": "2"}, "snapshot metadata")
bs.reset_snapshot_status(s, "error")
check(bs.get_snapshot(s).status == "error", "snapshot reset")
bs.reset_snapshot_status(s, "available")
bs.revert_volume_to_snapshot(v, s)
available(bs.get_volume(v))
copy = available(bs.create_volume(snapshot_id=s.id, name="sdk-copy"))
check(copy.snapshot_id == s.id, "copy from snapshot")
check(s.id in [x.id for x in bs.snapshots(details=True)], "snapshot list")
done("snapshots")

# Attachments (3.27+): reserve, connect, complete, list, delete.
server = str(uuid.uuid4())
a = bs.create_attachment(copy.id, instance=server)
check(a.status == "reserved", f"attachment {a.status}")
a = bs.update_attachment(a.id, connector={"host": "sdk-host", "initiator": "iqn.sdk"})
bs.complete_attachment(a.id)
check(bs.get_volume(copy).status == "in-use", "attached volume in-use")
check(a.id in [x.id for x in bs.attachments()], "attachment list")
check(bs.get_attachment(a.id).instance == server, "attachment show")
bs.delete_attachment(a.id)
check(bs.get_volume(copy).status == "available", "detached")
done("attachments")

# Quotas: show, usage, defaults, update, revert; per-type keys.
qs = bs.get_quota_set(project)
check((qs.volumes, qs.snapshots, qs.gigabytes) == (10, 10, 1000), f"quota {qs}")
used = bs.get_quota_set(project, usage=True)
check(used.usage["volumes"] >= 3, f"quota usage {used.usage}")
check(bs.get_quota_set_defaults(project).volumes == 10, "quota defaults")
bs.update_quota_set(project, volumes=20, gigabytes=500)
qs = bs.get_quota_set(project)
check((qs.volumes, qs.gigabytes) == (20, 500), f"quota update {qs.volumes} {qs.gigabytes}")
refused(400, bs.update_quota_set, project, volumes=1)
bs.revert_quota_set(project)
check(bs.get_quota_set(project).volumes == 10, "quota reverted")
refused(403, member.update_quota_set, project, volumes=30)
done("quotas")

# Limits.
limits = bs.get_limits(project)
absolute = limits.absolute
check(absolute.max_total_volumes == 10 and absolute.total_volumes_used >= 3,
      f"limits {absolute}")
done("limits")

# Availability zones, services, pools, capabilities, resource filters, extensions.
zones = [z.name for z in bs.availability_zones()]
check("nova" in zones, f"zones {zones}")
svcs = list(bs.services())
vol_svc = [x for x in svcs if x.binary == "cinder-volume"]
check(vol_svc and any(x.binary == "cinder-scheduler" for x in svcs), f"services {svcs}")
node = vol_svc[0]
node = bs.disable_service(node, reason="sdk maintenance")
check(node.status == "disabled" and node.disabled_reason == "sdk maintenance", f"{node}")
refused(403, member.disable_service, node)
bs.enable_service(node)
check([x.status for x in bs.services(binary="cinder-volume")][0] == "enabled", "enabled")
pools = list(bs.backend_pools())
check(pools and pools[0].capabilities.get("total_capacity_gb") is not None, f"pools {pools}")
caps = bs.get_capabilities(node.host)
check(caps.volume_backend_name and caps.pool_name, f"capabilities {caps}")
check(any(f.resource == "volume" for f in bs.resource_filters()), "resource filters")
check(list(bs.extensions()), "extensions")
done("catalogue")

# User messages: a volume no node can hold fails and leaves one message.
nowhere = bs.create_type(name="sdk-nowhere", extra_specs={"capabilities:nowhere": "<is> True"})
big = bs.create_volume(size=1, name="sdk-nowhere", volume_type="sdk-nowhere")
bs.wait_for_status(big, status="error", wait=30)
# The SDK's Message resource names no microversion, so it asks at 3.0, where Cinder (and
# Clinker) have no messages API: 404. A default microversion for the proxy fixes it.
refused(404, lambda: list(bs.messages()))
at35 = openstack.connect(auth_type="admin_token", auth={"token": token, "endpoint": url},
                         block_storage_endpoint_override=url,
                         block_storage_default_microversion="3.5").block_storage
msgs = [m for m in at35.messages() if m.resource_uuid == big.id]
check(len(msgs) == 1 and msgs[0].event_id.startswith("VOLUME_"), f"messages {msgs}")
# get_message reads the key "messages", but Cinder answers {"message": ...} (as Clinker
# does), so the SDK's object stays empty apart from its id: an SDK bug, not checked here.
check(at35.get_message(msgs[0].id).id == msgs[0].id, "message show")
check(msgs[0].user_message.startswith("schedule allocate volume:"), f"{msgs[0]}")
at35.delete_message(msgs[0].id)
check(not [m for m in at35.messages() if m.resource_uuid == big.id], "message deleted")
done("messages")

# Transfers: offer a volume (the key is answered once), list, show, a wrong key refused,
# the accept into another project (its own token and endpoint), and an offer withdrawn.
other = "0e0e0e0e"
other_url = url.rsplit("/", 1)[0] + "/" + other
taker = openstack.connect(auth_type="admin_token",
                          auth={"token": "taker:" + other, "endpoint": other_url},
                          block_storage_endpoint_override=other_url).block_storage
gift = available(bs.create_volume(size=1, name="sdk-gift"))
gift_snap = available(bs.create_snapshot(volume_id=gift.id, name="sdk-gift-snap"))
giver_before = bs.get_quota_set(project, usage=True).usage
taker_before = bs.get_quota_set(other, usage=True).usage
tr = bs.create_transfer(volume_id=gift.id, name="sdk-gift")
check(tr.auth_key and len(tr.auth_key) == 16, f"auth key {tr.auth_key}")
check(bs.get_volume(gift).status == "awaiting-transfer", "awaiting transfer")
check(tr.id in [x.id for x in bs.transfers()], "transfer listed")
check(bs.get_transfer(tr.id).auth_key is None, "the key is shown once")
refused(400, taker.accept_transfer, tr.id, "0" * 16)
check(bs.get_volume(gift).status == "awaiting-transfer", "a wrong key moves nothing")
taker.accept_transfer(tr.id, tr.auth_key)
moved = taker.get_volume(gift.id)
check((moved.status, moved.project_id) == ("available", other), f"moved {moved}")
check(gift.id not in [x.id for x in bs.volumes()], "gone from the giver's list")
moved_snap = taker.get_snapshot(gift_snap.id)
check(moved_snap.project_id == other, f"the snapshot moved with it: {moved_snap}")
# The usage moved with the volume and its snapshot: out of the giver's project, into the
# taker's.
giver_after = bs.get_quota_set(project, usage=True).usage
taker_after = bs.get_quota_set(other, usage=True).usage
for key, by in (("volumes", 1), ("snapshots", 1), ("gigabytes", 2)):
    check(giver_after[key] == giver_before[key] - by, f"giver {key}: {giver_after}")
    check(taker_after[key] == taker_before[key] + by, f"taker {key}: {taker_after}")
kept = available(bs.create_volume(size=1, name="sdk-kept"))
withdrawn = bs.create_transfer(volume_id=kept.id)
bs.delete_transfer(withdrawn, ignore_missing=False)
check(bs.get_volume(kept).status == "available", "withdrawn")
taker.delete_snapshot(moved_snap)
taker.wait_for_delete(moved_snap, wait=30)
taker.delete_volume(moved)
bs.delete_volume(kept)
taker.wait_for_delete(moved, wait=30)
bs.wait_for_delete(kept, wait=30)
done("transfers")

# Type encryption: create, show, update, a volume of the type is encrypted and freezes
# it, delete once the volume is gone.
et = bs.create_type(name="sdk-luks")
enc = bs.create_type_encryption(et, provider="luks", control_location="front-end",
                                cipher="aes-xts-plain64", key_size=256)
check(enc.encryption_id, f"encryption {enc}")
got = bs.get_type_encryption(et)
check((got.provider, got.key_size, got.cipher) == ("luks", 256, "aes-xts-plain64"), f"{got}")
bs.update_type_encryption(volume_type=et, control_location="back-end")
check(bs.get_type_encryption(et).control_location == "back-end", "encryption updated")
secret = available(bs.create_volume(size=1, volume_type="sdk-luks", name="sdk-secret"))
check(bs.get_volume(secret).is_encrypted is True, "the volume is encrypted")
refused(400, bs.delete_type_encryption, volume_type=et, ignore_missing=False)
bs.delete_volume(secret)
bs.wait_for_delete(secret, wait=30)
bs.delete_type_encryption(volume_type=et, ignore_missing=False)
check(not bs.get_type_encryption(et).provider, "encryption deleted")
bs.delete_type(et)
done("encryption")

# Group types (3.11): create, show, find, update, group specs set/show/update/unset;
# a type in use cannot be deleted.
gt = bs.create_group_type(name="sdk-gt", description="g", group_specs={"sdk:a": "1"})
check(bs.get_group_type(gt.id).group_specs == {"sdk:a": "1"}, f"group specs at create {gt}")
bs.update_group_type(gt, description="grouped")
found = bs.find_group_type("sdk-gt")
check((found.id, found.description) == (gt.id, "grouped"), f"group type update {found}")
check(gt.id in [x.id for x in bs.group_types()], "group types listed")
bs.create_group_type_group_specs(gt, {"sdk:b": "2"})
check(bs.fetch_group_type_group_specs(gt).group_specs == {"sdk:a": "1", "sdk:b": "2"},
      "group specs set")
check(bs.get_group_type_group_specs_property(gt, "sdk:b") == "2", "one group spec")
bs.update_group_type_group_specs_property(gt, "sdk:b", "3")
bs.delete_group_type_group_specs_property(gt, "sdk:a")
check(bs.fetch_group_type_group_specs(gt).group_specs == {"sdk:b": "3"}, "group spec unset")
refused(403, member.create_group_type, name="sdk-member-gt")
done("group types")

# Groups (3.13): create with a group type and volume types, list, show, rename, reset
# status (3.20), delete; the groups quota counts it while it lives.
groups_before = bs.get_quota_set(project, usage=True).usage["groups"]
g = bs.create_group(name="sdk-group", group_type=gt.id, volume_types=[t.id],
                    description="first")
g = bs.wait_for_status(bs.get_group(g.id), status="available", failures=["error"], wait=30)
check((g.group_type, g.volume_types) == (gt.id, [t.id]), f"group {g}")
check(bs.get_quota_set(project, usage=True).usage["groups"] == groups_before + 1,
      "the group counts against the groups quota")
check(g.id in [x.id for x in bs.groups()], "group listed")
check(bs.find_group("sdk-group").id == g.id, "group found by name")
bs.update_group(g, name="sdk-group2", description="second")
g = bs.get_group(g.id)
check((g.name, g.description) == ("sdk-group2", "second"), f"group update {g}")
bs.reset_group_status(g, "error")
check(bs.get_group(g.id).status == "error", "group reset to error")
refused(403, member.reset_group_status, g, "available")
bs.reset_group_status(g, "available")
refused(400, bs.delete_group_type, gt, ignore_missing=False)
bs.delete_group(g, ignore_missing=False)
bs.wait_for_delete(g, wait=30)
check(bs.get_quota_set(project, usage=True).usage["groups"] == groups_before,
      "the group's quota given back")
bs.delete_group_type(gt, ignore_missing=False)
refused(404, bs.get_group_type, gt.id)
done("groups")

# Backups need a backup service Clinker does not have: the route is absent.
refused(404, lambda: list(bs.backups()))
done("backups absent")

# Clean up: attachments gone, snapshots first, then volumes and the type.
for vol in (big, copy, clone):
    bs.delete_volume(vol)
bs.delete_snapshot(s)
bs.wait_for_delete(s, wait=30)
bs.delete_volume(v)
for vol in (big, copy, clone, v):
    bs.wait_for_delete(vol, wait=30)
bs.delete_type(t)
bs.delete_type(nowhere)
done("cleanup")
