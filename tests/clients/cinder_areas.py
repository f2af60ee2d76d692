# python-cinderclient (`cinder`) against a running Clinker, for the areas that came with
# issue 17: transfers between projects, group types and their specs, groups, and the
# metadata ETag and If-Match (3.15).
# Usage: python3 tests/clients/cinder_areas.py <endpoint .../v3> <project>
#
# Each command runs through cinderclient's own shell class (what the `cinder` script runs)
# inside this one process, because starting Python per command costs a second or more.
# The shell negotiates the server's highest version (3.71) unless a command pins one.
# Prints "ok <area>" per area; exits 1 at the first failure.
#
# What cinderclient has no command or call for: os-hosts (it has no hosts manager at all).
import contextlib
import io
import sys
import time

from cinderclient import client as cinder_client
from cinderclient import exceptions
from cinderclient import shell
from cinderclient.contrib import noauth
from keystoneauth1 import session

url, project = sys.argv[1], sys.argv[2]
other = "0f0f0f0f"


def run(*args, user="admin", project_id=project):
    """Runs one `cinder` command as `user` of `project_id`; answers whether it succeeded
    and its output (stdout, then stderr)."""
    argv = ["--os-auth-type", "noauth", "--os-endpoint", url, "--os-user-id", user,
            "--os-project-id", project_id, *args]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            shell.OpenStackCinderShell().main(argv)
            ok = True
        except SystemExit as e:
            ok = e.code in (0, None)
        except Exception as e:  # the `cinder` script prints these as ERROR: and exits 1
            print("ERROR:", e)
            ok = False
    return ok, out.getvalue()


def cinder(*args, fail=False, **who):
    """[run], which must succeed (or fail, when `fail`); answers the output."""
    ok, out = run(*args, **who)
    if ok == fail:
        raise AssertionError(f"cinder {' '.join(args)}: {'succeeded' if ok else 'failed'}"
                             f"\n{out}")
    return out


def field(table, key):
    """The value of a `| key | value |` row of a table."""
    for line in table.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) >= 4 and cells[1] == key:
            return cells[2]
    return None


def rows(table):
    """Every data row of a list table, as lists of cells (the header row first)."""
    out = []
    for line in table.splitlines():
        if line.startswith("|"):
            out.append([c.strip() for c in line.strip().strip("|").split("|")])
    return out


def in_use(quota_usage, key):
    """The in-use count of `key` in `cinder quota-usage`'s table."""
    for row in rows(quota_usage):
        if row[0] == key:
            return int(row[1])
    raise AssertionError(f"no {key} in {quota_usage}")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def wait(kind, ident, want, **who):
    for _ in range(400):
        status = field(cinder(kind, ident, **who), "status")
        if status == want:
            return
        check(status != "error" or want == "error", f"{ident} went to error")
        time.sleep(0.05)
    raise AssertionError(f"{ident} never {want}")


def wait_gone(kind, ident, **who):
    for _ in range(400):
        ok, out = run(kind, ident, **who)
        if not ok:
            check("could not be found" in out or "No " in out, out)
            return
        time.sleep(0.05)
    raise AssertionError(f"{ident} never went away")


def done(area):
    print("ok", area, flush=True)


# Transfers: the accept into another project moves the volume, its snapshot and their
# usage; a wrong key (as the taker) moves nothing; `--no-snapshots` leaves the snapshot.
vol = field(cinder("create", "--name", "cc-gift", "1"), "id")
wait("show", vol, "available")
snap = field(cinder("snapshot-create", "--name", "cc-gift-snap", vol), "id")
wait("snapshot-show", snap, "available")
giver, taker = cinder("quota-usage", project), cinder("quota-usage", other)
out = cinder("transfer-create", "--name", "cc-gift-t", vol)
tid, key = field(out, "id"), field(out, "auth_key")
check(tid and key and len(key) == 16, out)
out = cinder("transfer-accept", tid, "0" * 16, fail=True, user="taker", project_id=other)
check("Invalid auth key" in out, out)
check(field(cinder("show", vol), "status") == "awaiting-transfer", "a wrong key moved it")
cinder("transfer-accept", tid, key, user="taker", project_id=other)
shown = cinder("show", vol, user="taker", project_id=other)
check(field(shown, "status") == "available", shown)
check(field(cinder("show", vol), "os-vol-tenant-attr:tenant_id") == other, "moved")
cinder("show", vol, fail=True, user="member", project_id=project)
shown = cinder("snapshot-show", snap, user="taker", project_id=other)
check(field(shown, "status") == "available", f"the snapshot moved too: {shown}")
giver2, taker2 = cinder("quota-usage", project), cinder("quota-usage", other)
for k, by in (("volumes", 1), ("snapshots", 1), ("gigabytes", 2)):
    check(in_use(giver2, k) == in_use(giver, k) - by, f"giver {k}: {giver2}")
    check(in_use(taker2, k) == in_use(taker, k) + by, f"taker {k}: {taker2}")
check(tid not in cinder("transfer-list"), "an accepted transfer is no longer listed")
cinder("snapshot-delete", snap, user="taker", project_id=other)
wait_gone("snapshot-show", snap, user="taker", project_id=other)
cinder("delete", vol, user="taker", project_id=other)
# `--no-snapshots` (3.55): the volume moves, its snapshot stays with the giver.
vol = field(cinder("create", "--name", "cc-bare", "1"), "id")
wait("show", vol, "available")
snap = field(cinder("snapshot-create", vol), "id")
wait("snapshot-show", snap, "available")
out = cinder("transfer-create", "--no-snapshots", vol)
check(field(out, "no_snapshots") == "True", out)
cinder("transfer-accept", field(out, "id"), field(out, "auth_key"), user="taker",
       project_id=other)
check(field(cinder("show", vol), "os-vol-tenant-attr:tenant_id") == other, "moved")
shown = cinder("snapshot-show", snap)
check(field(shown, "os-extended-snapshot-attributes:project_id") == project, shown)
cinder("snapshot-delete", snap)
wait_gone("snapshot-show", snap)
cinder("delete", vol, user="taker", project_id=other)
done("transfers")

# Group types (3.11): create, specs set/list/unset, show, update, list; `group-type-default`
# without `default_group_type` configured is Cinder's 404.
out = cinder("group-type-create", "--description", "grouped", "cc-gt")
gt = rows(out)[1][0]
cinder("group-type-key", "cc-gt", "set", "cc:a=1", "cc:b=2")
specs = cinder("group-specs-list")
check(any(r[1] == "cc-gt" and "'cc:a': '1'" in r[2] and "'cc:b': '2'" in r[2]
          for r in rows(specs)), specs)
cinder("group-type-key", "cc-gt", "unset", "cc:a")
shown = cinder("group-type-show", gt)
check("cc:a" not in shown and "cc:b" in shown, shown)
# Without --is-public, cinderclient sends `is_public: false` and the type turns private.
cinder("group-type-update", "--name", "cc-gt2", "--description", "renamed", gt)
shown = cinder("group-type-show", "cc-gt2")
check((field(shown, "id"), field(shown, "description"), field(shown, "is_public"))
      == (gt, "renamed", "False"), shown)
check(gt not in cinder("group-type-list", user="member"), "members miss private types")
# It sends `"description": null` beside is_public, which changes nothing in Cinder.
cinder("group-type-update", "--is-public", "true", gt)
shown = cinder("group-type-show", gt)
check((field(shown, "is_public"), field(shown, "description")) == ("True", "renamed"),
      f"public again, the description kept: {shown}")
check(any(r[0] == gt for r in rows(cinder("group-type-list"))), "group type listed")
out = cinder("group-type-default", fail=True)
check("404" in out or "not found" in out.lower(), out)
out = cinder("group-type-create", "cc-member-gt", fail=True, user="member")
check("403" in out, out)
done("group types")

# Groups (3.13): create with a group type and a volume type, list (filtered by name, the
# one filter members have from 3.31), show, rename, reset state (3.20), delete; the groups quota counts the group while it lives; a group type
# in use cannot be deleted.
vt = rows(cinder("type-create", "cc-vt"))[1][0]
before = in_use(cinder("quota-usage", project), "groups")
out = cinder("group-create", "--name", "cc-group", "--description", "first", gt, vt)
group = field(out, "id")
wait("group-show", group, "available")
shown = cinder("group-show", group)
check((field(shown, "group_type"), field(shown, "volume_types")) == (gt, f"['{vt}']"),
      shown)
check(in_use(cinder("quota-usage", project), "groups") == before + 1, "groups quota")
check(any(r[0] == group for r in rows(cinder("group-list"))), "group listed")
spare = field(cinder("group-create", "--name", "cc-spare", gt, vt), "id")
listed = [r[0] for r in rows(cinder("group-list", "--filters", "name=cc-group"))[1:]]
check(listed == [group], f"filtered by name: {listed}")
listed = rows(cinder("group-list", "--filters", "name=cc-spare", user="member"))[1:]
check([r[0] for r in listed] == [spare], f"a member filters by name: {listed}")
out = cinder("group-list", "--filters", "status=available", fail=True, user="member")
check("Invalid filters status" in out, out)
cinder("group-delete", spare)
wait_gone("group-show", spare)
cinder("group-update", "--name", "cc-group2", "--description", "second", group)
shown = cinder("group-show", "cc-group2")
check((field(shown, "id"), field(shown, "description")) == (group, "second"), shown)
cinder("reset-state", "--type", "group", "--state", "error", group)
check(field(cinder("group-show", group), "status") == "error", "group reset to error")
out = cinder("reset-state", "--type", "group", "--state", "available", group, fail=True,
             user="member")
check(field(cinder("group-show", group), "status") == "error", "a member reset nothing")
cinder("reset-state", "--type", "group", "--state", "available", group)
out = cinder("group-type-delete", gt, fail=True)
check(field(cinder("group-type-show", gt), "id") == gt, f"the type in use stays: {out}")
cinder("group-delete", group)
wait_gone("group-show", group)
check(in_use(cinder("quota-usage", project), "groups") == before, "groups quota given back")
cinder("group-type-delete", gt)
wait_gone("group-type-show", gt)
cinder("type-delete", "cc-vt")
done("groups")

# Metadata ETag and If-Match (3.15): `cinder metadata VOL unset` reads the metadata with
# its ETag and writes the rest back under If-Match; a write under a stale ETag is 412 and
# changes nothing.
vol = field(cinder("create", "--name", "cc-meta", "--metadata", "a=1", "b=2", "1"), "id")
wait("show", vol, "available")
cinder("metadata", vol, "unset", "a")
check(field(cinder("metadata-show", vol), "b") == "2", "b kept")
check(field(cinder("metadata-show", vol), "a") is None, "a unset")
auth = noauth.CinderNoAuthPlugin("admin", project, endpoint=url)
cs = cinder_client.Client("3.15", session=session.Session(auth=auth))
path = f"/volumes/{vol}/metadata"
first = cs.volumes._get(path)
check(first._checksum, "no ETag on the metadata at 3.15")
cs.volumes._update(path, {"metadata": {"b": "3"}}, headers={"If-Match": first._checksum})
second = cs.volumes._get(path)
check(second._info["metadata"] == {"b": "3"} and second._checksum != first._checksum,
      f"the write under the current ETag: {second._info}")
try:
    cs.volumes._update(path, {"metadata": {"b": "4"}}, headers={"If-Match": first._checksum})
    raise AssertionError("a stale If-Match was accepted")
except exceptions.ClientException as e:
    check(e.code == 412, f"stale If-Match: {e.code} {e}")
check(cs.volumes._get(path)._info["metadata"] == {"b": "3"}, "a stale write changed nothing")
old = cinder_client.Client("3.14", session=session.Session(auth=auth))
check(not old.volumes._get(path)._checksum, "no ETag before 3.15")
cinder("delete", vol)
wait_gone("show", vol)
done("etags")
