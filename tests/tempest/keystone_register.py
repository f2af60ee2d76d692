"""Registers Clinker in a freshly bootstrapped Keystone, as a deployer would for Cinder.

Creates the `service` project, the `service` role, the `cinder` user holding `admin` and
`service` in that project, and the `block-storage` and `volumev3` catalog entries whose
public and internal endpoints are Clinker's `/v3/%(project_id)s`. Only the standard library:
it runs under whichever Python the caller has.

Usage: keystone_register.py KEYSTONE_URL ADMIN_PASSWORD CINDER_PASSWORD CLINKER_URL REGION
"""

import json
import sys
import urllib.request


def call(method, url, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=30) as resp:
        raw = resp.read()
        return resp.headers, (json.loads(raw) if raw else None)


def main():
    keystone, admin_password, cinder_password, clinker, region = sys.argv[1:6]
    v3 = keystone.rstrip("/") + "/v3"
    headers, _ = call(
        "POST",
        v3 + "/auth/tokens",
        body={
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "admin",
                            "domain": {"id": "default"},
                            "password": admin_password,
                        }
                    },
                },
                "scope": {
                    "project": {"name": "admin", "domain": {"id": "default"}}
                },
            }
        },
    )
    token = headers["X-Subject-Token"]

    def create(collection, key, attrs):
        _, body = call("POST", f"{v3}/{collection}", token, {key: attrs})
        return body[key]["id"]

    service_project = create(
        "projects", "project", {"name": "service", "domain_id": "default"}
    )

    def role(name):
        # Keystone 30's bootstrap already makes `service` (and `admin`, `member`, `reader`);
        # an older one may not.
        _, found = call("GET", f"{v3}/roles?name={name}", token)
        if found["roles"]:
            return found["roles"][0]["id"]
        return create("roles", "role", {"name": name})

    admin_role, service_role = role("admin"), role("service")
    cinder = create(
        "users",
        "user",
        {
            "name": "cinder",
            "domain_id": "default",
            "password": cinder_password,
            "default_project_id": service_project,
        },
    )
    for role in (admin_role, service_role):
        call(
            "PUT",
            f"{v3}/projects/{service_project}/users/{cinder}/roles/{role}",
            token,
        )
    # Devstack's names: `cinder` for block-storage, `cinderv3` for the older volumev3 type,
    # which clients from before the service-types authority still look up.
    url = clinker.rstrip("/") + "/v3/%(project_id)s"
    for name, kind in (("cinder", "block-storage"), ("cinderv3", "volumev3")):
        service = create(
            "services",
            "service",
            {"name": name, "type": kind, "description": "Clinker Block Storage"},
        )
        for interface in ("public", "internal", "admin"):
            create(
                "endpoints",
                "endpoint",
                {
                    "service_id": service,
                    "interface": interface,
                    "url": url,
                    "region_id": region,
                },
            )


if __name__ == "__main__":
    main()
