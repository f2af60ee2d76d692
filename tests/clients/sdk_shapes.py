# openstacksdk against a running Clinker: the answers issue 17 fixed, as the SDK reads them.
# Usage: python3 tests/clients/sdk_shapes.py <endpoint .../v3/<project>> <admin:project>
# Prints "ok <check>" for each check that passed; stops at the first failure (exit 1).
import sys

import openstack
from openstack import exceptions

url, token = sys.argv[1], sys.argv[2]
project = token.split(":", 1)[1]


def connect(tok):
    return openstack.connect(auth_type="admin_token",
                             auth={"token": tok, "endpoint": url},
                             block_storage_endpoint_override=url)


admin = connect(token).block_storage
member = connect("member:" + project).block_storage


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def refused(status, fn, *args, **kwargs):
    """fn must fail with an HTTP error of this status."""
    try:
        result = fn(*args, **kwargs)
        # Lists are lazy: the request goes out when they are read.
        if hasattr(result, "__next__"):
            list(result)
    except exceptions.HttpException as e:
        check(e.status_code == status, f"{fn.__name__}: {e.status_code} != {status}: {e}")
        return e
    raise AssertionError(f"{fn.__name__} should have answered {status}")


def available(bs, resource):
    return bs.wait_for_status(resource, status="available", failures=["error"], wait=30)


vol = available(member, member.create_volume(size=1, name="sdk-shapes"))

# The create answer has no extension attributes; show has them.
snap = member.create_snapshot(volume_id=vol.id, name="sdk-shapes-snap")
check(snap.id and snap.volume_id == vol.id, f"create answer: {snap}")
snap = available(member, snap)
shown = member.get_snapshot(snap.id)
check(shown.progress == "100%", f"progress on show: {shown.progress}")
check(shown.project_id == project, f"project on show: {shown.project_id}")
print("ok snapshot create and show", flush=True)

# Snapshot lists sort, and an unknown sort key is a 400.
names = [s.name for s in member.snapshots(details=False, sort_key="name", sort_dir="asc")]
check(names == ["sdk-shapes-snap"], f"sorted list: {names}")
refused(400, member.snapshots, details=False, sort_key="nonsense")
print("ok snapshot sort keys", flush=True)

# os-unmanage is an admin rule: a member is refused with 403.
refused(403, member.unmanage_snapshot, snap.id)
check(member.get_snapshot(snap.id).status == "available", "the snapshot stays")
print("ok snapshot unmanage refused to a member", flush=True)

member.delete_snapshot(snap.id)
member.wait_for_delete(shown, wait=30)
member.delete_volume(vol.id)
print("ok cleanup", flush=True)
