"""Checks answers against Tempest's response schemas, the way Tempest's own clients do.

Reads a JSON list of exchanges on stdin, each

    {"label": "...", "schema": "volumes.show_volume", "version": "3.64" or null,
     "status": 200, "headers": {"name": "value"}, "body": <JSON> or null}

`schema` names a module of `tempest.lib.api_schema.response.volume` and one of its
schemas. The microversioned variant is chosen as Tempest's volume clients choose it:
the client of that module lists its schema modules per microversion range
(`schema_versions_info`), and `BaseClient.get_schema` picks the one matching the
request's version (no version: the base module), but only for the calls whose client
method asks `get_schema`; the other calls of that client take the base module at every
version, which describes Cinder only up to the base range's top, so asking for one
above it is reported as not covered (Tempest would refuse even Cinder's answer there).
A module without a versioned client is used as it is. Each answer then goes through `RestClient.validate_response`, the
check every Tempest call runs: the status code, the body (with `additionalProperties`
false where the schema says so) and the headers.

Prints one line per failure and exits 1 if any; prints the count checked and exits 0
otherwise. Used by tests/tempest_schemas_*.rs (tests/common_tempest).
"""

import importlib
import inspect
import json
import pkgutil
import re
import sys

from tempest.lib.common import api_version_request
from tempest.lib.common import rest_client
from tempest.lib.services.volume import base_client
import tempest.lib.services.volume.v3 as v3_clients

SCHEMA_PACKAGE = "tempest.lib.api_schema.response.volume"


def versioned_modules():
    """Maps a base schema module's short name to its client's `schema_versions_info` and
    the schemas the client picks by microversion (those its methods read after calling
    `get_schema`; the others it takes from the base module at every version)."""
    out = {}
    for info in pkgutil.iter_modules(v3_clients.__path__):
        module = importlib.import_module(f"{v3_clients.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            ranges = getattr(cls, "schema_versions_info", None)
            if not ranges or cls.__module__ != module.__name__:
                continue
            picked = set()
            for _, method in inspect.getmembers(cls, inspect.isfunction):
                source = inspect.getsource(method)
                if "get_schema(" in source:
                    picked.update(re.findall(r"\bschema\.(\w+)", source))
            for r in ranges:
                if r["min"] is None:
                    short = r["schema"].__name__.rsplit(".", 1)[1]
                    out[short] = (ranges, picked)
    return out


def schema_for(name, version, versioned):
    """The schema dict `module.attr` at `version` (a string such as "3.64", or None),
    or raises `NotCovered`."""
    module_name, attr = name.split(".")
    base = importlib.import_module(f"{SCHEMA_PACKAGE}.{module_name}")
    if module_name not in versioned:
        return getattr(base, attr)
    ranges, picked = versioned[module_name]
    # Tempest reads the microversion from this module global.
    base_client.VOLUME_MICROVERSION = version
    if attr in picked:
        module = base_client.BaseClient.get_schema(None, ranges)
        return getattr(module, attr)
    # The client checks this answer with the base schema at every version; that schema
    # describes Cinder only within the base range (later versions add keys to it).
    first = next(r for r in ranges if r["min"] is None)
    requested = api_version_request.APIVersionRequest(version)
    top = api_version_request.APIVersionRequest(first["max"])
    if not requested.is_null() and requested > top:
        raise NotCovered(f"{name} describes {module_name} up to {first['max']} only")
    return getattr(base, attr)


class NotCovered(Exception):
    """A schema asked for at a microversion it does not describe."""


class Response(dict):
    """What `validate_response` reads: the headers as a dict, and `status`."""

    def __init__(self, status, headers):
        super().__init__({k.lower(): v for k, v in headers.items()})
        self.status = status


def check(exchange, versioned):
    """None if the exchange passes Tempest's check, else why not."""
    status = exchange["status"]
    if status not in rest_client.HTTP_SUCCESS + rest_client.HTTP_REDIRECTION:
        return f"status {status} is not a success: {exchange.get('body')}"
    try:
        schema = schema_for(exchange["schema"], exchange.get("version"), versioned)
    except NotCovered as e:
        return f"not covered: {e}"
    body = exchange.get("body")
    if body is None:
        body = ""
    try:
        rest_client.RestClient.validate_response(
            schema, Response(status, exchange.get("headers", {})), body
        )
    except Exception as e:  # noqa: BLE001 - any failure of the check is reported
        # The message repeats the whole schema; keep what says what and where.
        lines = str(e).splitlines()
        kept = lines[:2] + [l for l in lines if l.startswith("On instance")]
        return f"{type(e).__name__}: {' '.join(kept)}"
    return None


def main():
    exchanges = json.load(sys.stdin)
    versioned = versioned_modules()
    failures = 0
    for ex in exchanges:
        why = check(ex, versioned)
        if why is not None:
            failures += 1
            version = ex.get("version") or "none"
            print(f"FAIL {ex['label']} [{ex['schema']} @ {version}]: {why}")
    if failures:
        print(f"{failures} of {len(exchanges)} answers fail Tempest's schemas")
        return 1
    print(f"{len(exchanges)} answers match Tempest's schemas")
    return 0


if __name__ == "__main__":
    sys.exit(main())
