#!/usr/bin/python3
"""Parses a Prometheus text exposition with prometheus_client's own parser (Debian's
python3-prometheus-client) and prints its samples as JSON, for tests:

  /usr/bin/python3 tools/parse_metrics.py FILE
  -> {"families": {name: type}, "samples": [[name, {labels}, value], ...]}

Exits 1 with the parser's message when the page does not parse.
"""
import json
import math
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    families = {}
    samples = []
    try:
        for family in text_string_to_metric_families(text):
            families[family.name] = family.type
            for sample in family.samples:
                value = sample.value
                if math.isinf(value):
                    value = "+Inf" if value > 0 else "-Inf"
                elif math.isnan(value):
                    value = "NaN"
                samples.append([sample.name, dict(sample.labels), value])
    except Exception as e:  # the parser raises ValueError and others
        print("parse error: %s" % e, file=sys.stderr)
        return 1
    json.dump({"families": families, "samples": samples}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
