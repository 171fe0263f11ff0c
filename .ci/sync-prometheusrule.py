#!/usr/bin/env python3
"""Keep k8s/monitoring/prometheusrule.yaml in step with the plain rules file.

The alert rules are written once, in Prometheus' own format, in
k8s/monitoring/rules/qlat-alerts.rules.yaml (so that promtool can check and
unit-test them). The PrometheusRule custom resource carries the same groups
for the Prometheus Operator.

    python3 .ci/sync-prometheusrule.py           # check: exit 1 if they differ
    python3 .ci/sync-prometheusrule.py --write   # regenerate the resource
"""

import argparse
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RULES = ROOT / "k8s/monitoring/rules/qlat-alerts.rules.yaml"
RESOURCE = ROOT / "k8s/monitoring/prometheusrule.yaml"

HEADER = """\
# GENERATED from k8s/monitoring/rules/qlat-alerts.rules.yaml by
# `python3 .ci/sync-prometheusrule.py --write`; do not edit by hand.
# The `release` label matches kube-prometheus-stack's default ruleSelector for
# a release named kube-prometheus-stack (terraform/ selects all rules).
"""


class _Dumper(yaml.SafeDumper):
    """Block style with indented sequences, as yamllint's default wants."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _str(dumper, value):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def expected_resource(groups):
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "qlat",
            "namespace": "qlat",
            "labels": {
                "app.kubernetes.io/name": "qlat",
                "app.kubernetes.io/part-of": "qlat",
                "release": "kube-prometheus-stack",
            },
        },
        "spec": {"groups": groups},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="regenerate the PrometheusRule")
    args = parser.parse_args()

    groups = yaml.safe_load(RULES.read_text())["groups"]
    if args.write:
        text = HEADER + yaml.dump(
            expected_resource(groups), Dumper=_Dumper, sort_keys=False, width=1000
        )
        RESOURCE.write_text(text)
        print(f"wrote {RESOURCE.relative_to(ROOT)}")
        return 0

    resource = yaml.safe_load(RESOURCE.read_text())
    problems = []
    if resource.get("apiVersion") != "monitoring.coreos.com/v1" or resource.get("kind") != "PrometheusRule":
        problems.append("not a monitoring.coreos.com/v1 PrometheusRule")
    if resource.get("spec", {}).get("groups") != groups:
        problems.append(f"spec.groups differ from {RULES.relative_to(ROOT)}")
    if problems:
        for problem in problems:
            print(f"{RESOURCE.relative_to(ROOT)}: {problem}", file=sys.stderr)
        print("run: python3 .ci/sync-prometheusrule.py --write", file=sys.stderr)
        return 1
    n = sum(len(g.get("rules", [])) for g in groups)
    print(f"{RESOURCE.relative_to(ROOT)}: in sync with the rules file ({len(groups)} group(s), {n} rules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
