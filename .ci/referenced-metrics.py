#!/usr/bin/env python3
"""List the qlat_* metric names that the deployment's queries reference.

Sources: the HorizontalPodAutoscaler (its pods metrics, resolved through
prometheus-adapter's rules to the series they are computed from), the
prometheus-adapter rules, the alerting rules and the Grafana dashboard.
Names are listed exactly as the expressions write them (histograms appear
as ..._bucket), one per line, sorted.

    referenced-metrics.py [--out FILE] [--promql-rules FILE]

--out (or env QLAT_REFERENCED_METRICS_OUT) writes the list to FILE.
--promql-rules writes every expression found (dashboard variables and
adapter templates filled in) as recording rules, for `promtool check rules`
to check their syntax.
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "k8s"
HPA = K8S / "hpa.yaml"
ADAPTER = K8S / "monitoring/prometheus-adapter-values.yaml"
RULES = K8S / "monitoring/rules/qlat-alerts.rules.yaml"
DASHBOARD = K8S / "monitoring/grafana-dashboard-qlat.json"

STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
QLAT_NAME = re.compile(r"(?<![A-Za-z0-9_:])(qlat_[A-Za-z0-9_:]*[A-Za-z0-9_])")
NAME_MATCHER = re.compile(r'__name__\s*=~?\s*"([^"]+)"')


def names_in(expr):
    """qlat_* identifiers outside string literals (label values are not metrics)."""
    return set(QLAT_NAME.findall(STRING.sub('""', expr)))


def series_names(series_query):
    """Metric names a prometheus-adapter seriesQuery selects."""
    found = names_in(series_query)
    for pattern in NAME_MATCHER.findall(series_query):
        plain = pattern.strip("^$")
        if re.fullmatch(r"[A-Za-z_:][A-Za-z0-9_:]*", plain):
            found.add(plain)
        else:
            raise SystemExit(f"seriesQuery {series_query!r}: regex name matcher; list its metrics explicitly")
    return found


def render_adapter(query, series):
    return (query.replace("<<.Series>>", series)
            .replace("<<.LabelMatchers>>", 'namespace="qlat",pod=~"qlat-.*"')
            .replace("<<.GroupBy>>", "namespace,pod"))


def fill_grafana(expr):
    expr = re.sub(r"\$__(rate_)?interval|\$__range", "5m", expr)
    expr = expr.replace("$namespace", "qlat")
    m = re.fullmatch(r"\s*label_values\((.*),\s*[A-Za-z_]+\s*\)\s*", expr, re.S)
    return m.group(1) if m else expr


def dashboard_exprs(dashboard):
    def panels(items):
        for p in items:
            yield p
            yield from panels(p.get("panels", []))

    for p in panels(dashboard.get("panels", [])):
        for t in p.get("targets", []):
            if t.get("expr"):
                yield f"dashboard panel {p.get('title')!r}", t["expr"]
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            q = var.get("query")
            q = q.get("query") if isinstance(q, dict) else q
            if q:
                yield f"dashboard variable ${var['name']}", q


def collect():
    """[(source, kind, expression)] for every query, and the HPA's resolved names."""
    exprs = []
    adapter = yaml.safe_load(ADAPTER.read_text())
    provided = {}
    for rule in adapter["rules"]["custom"]:
        series = series_names(rule["seriesQuery"])
        provided[rule["name"]["as"]] = series
        exprs.append(("prometheus-adapter seriesQuery", rule["seriesQuery"]))
        for s in sorted(series):
            exprs.append((f"prometheus-adapter metricsQuery {rule['name']['as']}", render_adapter(rule["metricsQuery"], s)))

    hpa_names = {}
    for doc in yaml.safe_load_all(HPA.read_text()):
        for m in (doc or {}).get("spec", {}).get("metrics", []):
            if m["type"] in ("Pods", "Object", "External"):
                name = m[m["type"].lower()]["metric"]["name"]
                if name not in provided:
                    raise SystemExit(f"HPA metric {name!r} is not provided by {ADAPTER.relative_to(ROOT)}")
                hpa_names[name] = provided[name]

    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            exprs.append((f"alert {rule.get('alert') or rule.get('record')}", str(rule["expr"])))

    for source, expr in dashboard_exprs(json.loads(DASHBOARD.read_text())):
        exprs.append((source, fill_grafana(expr)))
    return exprs, hpa_names


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("QLAT_REFERENCED_METRICS_OUT"))
    parser.add_argument("--promql-rules")
    args = parser.parse_args()

    exprs, hpa_names = collect()
    by_name = {}
    for name, series in hpa_names.items():
        for s in series:
            by_name.setdefault(s, set()).add(f"HPA pods metric {name}")
    for source, expr in exprs:
        for n in names_in(expr):
            by_name.setdefault(n, set()).add(source.split(" ")[0] if source.startswith("dashboard") else source)

    names = sorted(by_name)
    for n in names:
        print(f"{n:45s} {', '.join(sorted(by_name[n]))}")
    print(f"{len(names)} qlat_* metric names referenced by {len(exprs)} expressions")
    if args.out:
        Path(args.out).write_text("".join(f"{n}\n" for n in names))
        print(f"wrote {args.out}")
    if args.promql_rules:
        rules = [{"record": f"check:expr_{i}", "expr": expr} for i, (_, expr) in enumerate(exprs)]
        Path(args.promql_rules).write_text(yaml.safe_dump({"groups": [{"name": "expressions", "rules": rules}]}, sort_keys=False))
        print(f"wrote {len(rules)} expressions to {args.promql_rules}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
