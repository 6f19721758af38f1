#!/usr/bin/python3
"""Prints where the test command's time went: the build, then one row per test group.

A group is a test binary (every GoogleTest case CTest runs from it: engine_test,
server_test, ...) or a test of its own (make_cam_reference, container, libtorch2, ...).
Seconds are the sum of the group's test times: with `ctest -j 2` two tests run at once, so
the groups add up to about twice the suite's wall time. Under a script test's row, the
lines of its output that time a step ("... in 123 s", "... took 45 s"): where the container,
LibTorch 2.x and sanitizer tests spend theirs, which CTest does not print for a test that
passes.

Usage: scripts/lib/test_times.py --junit FILE --tests FILE [--build-seconds N]
  --junit FILE   CTest's --output-junit file
  --tests FILE   `ctest --show-only=json-v1`'s output (which command each test runs)
"""
import argparse
import collections
import json
import os
import re
import xml.etree.ElementTree as ET


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--junit", required=True)
    parser.add_argument("--tests", required=True)
    parser.add_argument("--build-seconds", type=float)
    args = parser.parse_args()

    group_of = {}
    with open(args.tests) as f:
        for test in json.load(f)["tests"]:
            command = test.get("command") or []
            binary = os.path.basename(command[0]) if command else test["name"]
            # A test binary runs many cases; a script (bash, python) is a group of its own.
            is_binary = binary.endswith("_test") and "--gtest_filter" in " ".join(command)
            group_of[test["name"]] = binary if is_binary else test["name"]

    step = re.compile(r"\b(?:in|took) [0-9]+ s\b")
    groups = collections.OrderedDict()
    steps = {}
    for case in ET.parse(args.junit).getroot().iter("testcase"):
        name = case.get("name")
        group = group_of.get(name, name)
        output = case.find("system-out")
        if group == name and output is not None and output.text:
            steps[group] = [line.strip() for line in output.text.splitlines()
                            if step.search(line)][:8]
        count, seconds, failed = groups.get(group, (0, 0.0, 0))
        bad = case.find("failure") is not None or case.find("error") is not None
        groups[group] = (count + 1, seconds + float(case.get("time") or 0), failed + bad)

    rows = sorted(groups.items(), key=lambda item: -item[1][1])
    width = max([len(g) for g in groups] + [20])
    print()
    print("Where the time went (scripts/test.sh):")
    if args.build_seconds is not None:
        print("  %-*s %8.0f s" % (width, "install and build", args.build_seconds))
    print("  %-*s %8s   %s" % (width, "test group", "seconds", "tests"))
    total = 0.0
    for group, (count, seconds, failed) in rows:
        total += seconds
        note = " (%d failed)" % failed if failed else ""
        print("  %-*s %8.1f   %d%s" % (width, group, seconds, count, note))
        for line in steps.get(group, []):
            print("      %s" % line)
    print("  %-*s %8.1f   %d" % (width, "all tests (summed)", total,
                                  sum(c for c, _, _ in groups.values())))


if __name__ == "__main__":
    main()
