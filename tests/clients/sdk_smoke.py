# openstacksdk against a running Clinker (block_storage proxy, admin_token noauth recipe).
# Usage: python3 tests/clients/sdk_smoke.py <endpoint .../v3/<project>> <user:project>
import sys, openstack
url, token = sys.argv[1], sys.argv[2]
conn = openstack.connect(auth_type="admin_token", auth={"token": token, "endpoint": url},
                         block_storage_endpoint_override=url)
v = conn.block_storage.create_volume(size=1, name="sdkvol")
v = conn.block_storage.wait_for_status(v, status="available", wait=30)
print("created", v.id, v.status)
s = conn.block_storage.create_snapshot(volume_id=v.id, name="sdksnap")
s = conn.block_storage.wait_for_status(s, status="available", wait=30)
print("snapshot", s.id, s.status)
print("listed", sorted(x.name for x in conn.block_storage.volumes()))
conn.block_storage.delete_snapshot(s)
conn.block_storage.wait_for_delete(s, wait=30)
conn.block_storage.delete_volume(v)
conn.block_storage.wait_for_delete(v, wait=30)
print("deleted")
