"""Counts a Tempest run's subunit stream (stdin) per suite, lists failures, and ends with the
plain line `tempest: N passed, N failed, N skipped`. Exits 1 when a test failed or none ran.

Run with .venv-tempest's Python (python-subunit and testtools come with Tempest).
With --list STATUS it prints only the ids of the tests that ended so (e.g. `--list skip`).
"""

import collections
import re
import sys

import subunit
import testtools

SUITES = (
    "tempest.api.volume",
    "cinder_tempest_plugin.api.volume",
    "cinder_tempest_plugin.rbac",
)
# Tempest ids carry their idempotent id and tags: `name[id-...,smoke]`.
ATTRS = re.compile(r"\[.*\]$")
KIND = {"success": "passed", "xfail": "passed", "skip": "skipped"}


def suite_of(test_id):
    # A class whose setUpClass skipped or failed reports as `setUpClass (module.Class)`.
    inner = re.search(r"\((.*)\)", test_id)
    name = inner.group(1) if test_id.startswith("setUpClass") and inner else test_id
    for suite in SUITES:
        if name.startswith(suite + "."):
            return suite
    return "other"


def main():
    results = []

    def on_test(test):
        if test["status"] in ("exists", None):
            return
        reason = test["details"].get("reason")
        text = reason.as_text() if reason is not None else ""
        results.append((ATTRS.sub("", test["id"]), test["status"], text))

    stream = subunit.ByteStreamToStreamResult(sys.stdin.buffer, non_subunit_name="stdout")
    sink = testtools.StreamToDict(on_test)
    sink.startTestRun()
    stream.run(sink)
    sink.stopTestRun()

    if len(sys.argv) == 3 and sys.argv[1] == "--list":
        for test_id, status, reason in sorted(results):
            if status == sys.argv[2]:
                print(f"{test_id}  # {reason}" if reason else test_id)
        return 0

    counts = collections.defaultdict(collections.Counter)
    for test_id, status, _ in results:
        counts[suite_of(test_id)][KIND.get(status, "failed")] += 1
    failed = sorted(t for t, s, _ in results if KIND.get(s, "failed") == "failed")
    for test_id in failed:
        print(f"FAILED {test_id}")
    total = collections.Counter()
    for suite in sorted(counts):
        c = counts[suite]
        total.update(c)
        print(f"{suite}: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped")
    print(f"tempest: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    return 1 if total["failed"] or not total["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
