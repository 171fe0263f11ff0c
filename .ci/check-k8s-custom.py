#!/usr/bin/env python3
"""Checks of k8s/ that kubernetes-validate cannot make.

1. The Prometheus Operator's custom resources (ServiceMonitor, PrometheusRule)
   against a strict JSON schema of the fields this project uses (a subset of
   the monitoring.coreos.com/v1 CRDs; unknown fields are errors).
2. The objects refer to each other correctly: the Service selects the
   Deployment's pods and names its container port, the ServiceMonitor selects
   the Service (labels, namespace, port name), the PDB / NetworkPolicies /
   topology spread select the pods they mean, the HPA targets the Deployment
   and asks only for pods metrics that prometheus-adapter's rules provide,
   probes use declared ports, referenced ConfigMaps/Secrets/ServiceAccounts
   exist (Secrets in the template), and every manifest is in kustomization.yaml.

Usage: check-k8s-custom.py [K8S_DIR]   (default: k8s/ beside .ci/)
"""

import sys
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parent.parent

DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
LABEL_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
METADATA = {
    "type": "object",
    "required": ["name", "namespace"],
    "properties": {
        "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
        "namespace": {"type": "string"},
        "labels": LABEL_MAP,
        "annotations": LABEL_MAP,
    },
    "additionalProperties": False,
}
LABEL_SELECTOR = {
    "type": "object",
    "properties": {
        "matchLabels": LABEL_MAP,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}
RELABEL = {"type": "array", "items": {"type": "object"}}
SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "properties": {
                "jobLabel": {"type": "string"},
                "targetLabels": {"type": "array", "items": {"type": "string"}},
                "podTargetLabels": {"type": "array", "items": {"type": "string"}},
                "sampleLimit": {"type": "integer", "minimum": 0},
                "selector": LABEL_SELECTOR,
                "namespaceSelector": {
                    "type": "object",
                    "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}},
                    "additionalProperties": False,
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "properties": {
                            "port": {"type": "string"},
                            "targetPort": {"type": ["string", "integer"]},
                            "path": {"type": "string", "pattern": "^/"},
                            "scheme": {"enum": ["http", "https"]},
                            "params": {"type": "object"},
                            "interval": DURATION,
                            "scrapeTimeout": DURATION,
                            "honorLabels": {"type": "boolean"},
                            "honorTimestamps": {"type": "boolean"},
                            "relabelings": RELABEL,
                            "metricRelabelings": RELABEL,
                            "followRedirects": {"type": "boolean"},
                            "enableHttp2": {"type": "boolean"},
                        },
                        "additionalProperties": False,
                    },
                },
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
RULE = {
    "type": "object",
    "required": ["expr"],
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
    "properties": {
        "alert": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
        "record": {"type": "string", "pattern": r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
        "expr": {"type": ["string", "integer"]},
        "for": DURATION,
        "keep_firing_for": DURATION,
        "labels": LABEL_MAP,
        "annotations": LABEL_MAP,
    },
    "additionalProperties": False,
}
PROMETHEUS_RULE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": METADATA,
        "spec": {
            "type": "object",
            "required": ["groups"],
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["name", "rules"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "interval": DURATION,
                            "limit": {"type": "integer"},
                            "query_offset": DURATION,
                            "partial_response_strategy": {"type": "string"},
                            "labels": LABEL_MAP,
                            "rules": {"type": "array", "minItems": 1, "items": RULE},
                        },
                        "additionalProperties": False,
                    },
                },
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}
SCHEMAS = {("monitoring.coreos.com/v1", "ServiceMonitor"): SERVICE_MONITOR,
           ("monitoring.coreos.com/v1", "PrometheusRule"): PROMETHEUS_RULE}

errors = []


def error(msg):
    errors.append(msg)


def load_all(path):
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def selects(selector, labels):
    """A LabelSelector (matchLabels only, as used here) selects `labels`."""
    match = (selector or {}).get("matchLabels", {})
    if (selector or {}).get("matchExpressions"):
        error(f"selector {selector}: matchExpressions not supported by this check")
    return bool(match) and all(labels.get(k) == v for k, v in match.items())


def main():
    k8s = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "k8s"
    kustomization = yaml.safe_load((k8s / "kustomization.yaml").read_text())
    listed = kustomization.get("resources", [])
    objs = []
    for rel in listed:
        path = k8s / rel
        if not path.exists():
            error(f"kustomization.yaml lists missing {rel}")
            continue
        for doc in load_all(path):
            objs.append((rel, doc))

    # Every manifest (a YAML file whose documents have apiVersion+kind) is listed,
    # except the Secret template, which holds placeholders only.
    not_listed = {"secret.template.yaml", "kustomization.yaml"}
    for path in sorted(k8s.rglob("*.yaml")):
        rel = path.relative_to(k8s).as_posix()
        if rel in listed or rel in not_listed:
            continue
        docs = load_all(path)
        if docs and all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in docs):
            error(f"{rel} is a manifest but not in kustomization.yaml")

    secrets = {}
    for doc in load_all(k8s / "secret.template.yaml"):
        if doc.get("kind") != "Secret":
            error("secret.template.yaml: only Secrets belong there")
        secrets[doc["metadata"]["name"]] = set((doc.get("stringData") or {}) | (doc.get("data") or {}))

    by_kind = {}
    for rel, doc in objs:
        kind = doc.get("kind")
        by_kind.setdefault(kind, []).append(doc)
        schema = SCHEMAS.get((doc.get("apiVersion"), kind))
        if schema is not None:
            before = len(errors)
            validator = jsonschema.Draft202012Validator(schema)
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(e.path)):
                where = "/".join(str(p) for p in e.path) or "(root)"
                error(f"{rel}: {kind}/{doc.get('metadata', {}).get('name')}: {where}: {e.message}")
            if len(errors) == before:
                print(f"ok   {rel}: {kind}/{doc['metadata']['name']} matches the monitoring.coreos.com/v1 schema subset")

    namespace = kustomization.get("namespace")
    for rel, doc in objs:
        ns = doc.get("metadata", {}).get("namespace")
        if doc.get("kind") != "Namespace" and ns != namespace:
            error(f"{rel}: {doc['kind']}/{doc['metadata']['name']} has namespace {ns!r}, kustomization says {namespace!r}")

    def named(kind):
        return {d["metadata"]["name"]: d for d in by_kind.get(kind, [])}

    configmaps = set(named("ConfigMap")) | {g["name"] for g in kustomization.get("configMapGenerator", [])}
    serviceaccounts = set(named("ServiceAccount"))
    workloads = list(by_kind.get("Deployment", [])) + list(by_kind.get("StatefulSet", []))

    for w in workloads:
        wname = f"{w['kind']}/{w['metadata']['name']}"
        tpl = w["spec"]["template"]
        pod_labels = tpl["metadata"]["labels"]
        pod = tpl["spec"]
        if not selects(w["spec"]["selector"], pod_labels):
            error(f"{wname}: selector does not select its own pod template")
        if pod.get("serviceAccountName") not in serviceaccounts:
            error(f"{wname}: ServiceAccount {pod.get('serviceAccountName')!r} is not defined")
        for c in pod.get("containers", []):
            ports = {p.get("name") for p in c.get("ports", [])} | {p["containerPort"] for p in c.get("ports", [])}
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                p = c.get(probe)
                if p is None:
                    error(f"{wname}/{c['name']}: no {probe}")
                    continue
                port = (p.get("httpGet") or p.get("tcpSocket") or {}).get("port")
                if port is not None and port not in ports:
                    error(f"{wname}/{c['name']}: {probe} uses undeclared port {port!r}")
            for src in c.get("envFrom", []):
                ref = src.get("configMapRef", {}).get("name")
                if ref and ref not in configmaps:
                    error(f"{wname}/{c['name']}: envFrom ConfigMap {ref!r} is not defined")
            for env in c.get("env", []):
                ref = (env.get("valueFrom") or {}).get("secretKeyRef")
                if ref and not ref.get("optional") and ref["key"] not in secrets.get(ref["name"], set()):
                    error(f"{wname}/{c['name']}: Secret {ref['name']}/{ref['key']} is not in secret.template.yaml")
        for v in pod.get("volumes", []):
            if "secret" in v:
                name = v["secret"]["secretName"]
                for item in v["secret"].get("items", []):
                    if item["key"] not in secrets.get(name, set()):
                        error(f"{wname}: volume Secret {name}/{item['key']} is not in secret.template.yaml")
        for tsc in pod.get("topologySpreadConstraints", []):
            if not selects(tsc["labelSelector"], pod_labels):
                error(f"{wname}: a topologySpreadConstraint does not select its own pods")
        if w["kind"] == "StatefulSet" and w["spec"]["serviceName"] not in named("Service"):
            error(f"{wname}: serviceName {w['spec']['serviceName']!r} is not a Service")

    def pods_selected(selector):
        return [w for w in workloads if selects(selector, w["spec"]["template"]["metadata"]["labels"])]

    services = named("Service")
    for name, svc in services.items():
        targets = pods_selected({"matchLabels": svc["spec"]["selector"]})
        if len(targets) != 1:
            error(f"Service/{name} selects {len(targets)} workloads, expected 1")
            continue
        cports = {p.get("name") for c in targets[0]["spec"]["template"]["spec"]["containers"] for p in c.get("ports", [])}
        for port in svc["spec"]["ports"]:
            if isinstance(port.get("targetPort"), str) and port["targetPort"] not in cports:
                error(f"Service/{name}: targetPort {port['targetPort']!r} is not a container port name")

    for name, sm in named("ServiceMonitor").items():
        nsel = sm["spec"].get("namespaceSelector", {})
        matched = [s for s in services.values() if selects(sm["spec"]["selector"], s["metadata"].get("labels", {}))
                   and (nsel.get("any") or s["metadata"]["namespace"] in nsel.get("matchNames", [sm["metadata"]["namespace"]]))]
        if len(matched) != 1:
            error(f"ServiceMonitor/{name} selects {len(matched)} Services, expected 1")
            continue
        svc_ports = {p.get("name") for p in matched[0]["spec"]["ports"]}
        before = len(errors)
        for ep in sm["spec"]["endpoints"]:
            if ep.get("port") not in svc_ports:
                error(f"ServiceMonitor/{name}: endpoint port {ep.get('port')!r} is not a port name of Service/{matched[0]['metadata']['name']}")
        if len(errors) == before:
            print(f"ok   ServiceMonitor/{name} selects Service/{matched[0]['metadata']['name']} port(s) {sorted(svc_ports)}")

    for name, pdb in named("PodDisruptionBudget").items():
        if len(pods_selected(pdb["spec"]["selector"])) != 1:
            error(f"PodDisruptionBudget/{name} does not select exactly one workload")

    for name, np in named("NetworkPolicy").items():
        if len(pods_selected(np["spec"]["podSelector"])) != 1:
            error(f"NetworkPolicy/{name} does not select exactly one workload")
        for rule in np["spec"].get("ingress", []):
            for peer in rule.get("from", []):
                if "podSelector" in peer and not pods_selected(peer["podSelector"]):
                    error(f"NetworkPolicy/{name}: an ingress peer selects no workload")

    adapter = yaml.safe_load((k8s / "monitoring/prometheus-adapter-values.yaml").read_text())
    provided = {r["name"]["as"] for r in adapter["rules"]["custom"]}
    deployments = named("Deployment")
    for name, hpa in named("HorizontalPodAutoscaler").items():
        before = len(errors)
        ref = hpa["spec"]["scaleTargetRef"]
        if ref["kind"] != "Deployment" or ref["name"] not in deployments:
            error(f"HorizontalPodAutoscaler/{name} targets {ref['kind']}/{ref['name']}, which is not defined")
        if hpa["spec"]["minReplicas"] < 2:
            error(f"HorizontalPodAutoscaler/{name}: minReplicas below 2")
        for m in hpa["spec"]["metrics"]:
            if m["type"] == "Pods" and m["pods"]["metric"]["name"] not in provided:
                error(f"HorizontalPodAutoscaler/{name}: pods metric {m['pods']['metric']['name']!r} is not provided by prometheus-adapter-values.yaml")
            if m["type"] == "Resource":
                for w in pods_selected(deployments.get(ref["name"], {}).get("spec", {}).get("selector")):
                    for c in w["spec"]["template"]["spec"]["containers"]:
                        if m["resource"]["name"] not in c.get("resources", {}).get("requests", {}):
                            error(f"HorizontalPodAutoscaler/{name}: {c['name']} has no {m['resource']['name']} request")
        if len(errors) == before:
            names = [m["pods"]["metric"]["name"] if m["type"] == "Pods" else m["resource"]["name"] for m in hpa["spec"]["metrics"]]
            print(f"ok   HorizontalPodAutoscaler/{name}: metrics {names} available")

    if errors:
        for e in errors:
            print(f"FAIL {e}", file=sys.stderr)
        return 1
    print(f"ok   {len(objs)} objects in {k8s.relative_to(ROOT) if k8s.is_relative_to(ROOT) else k8s}: cross-references consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
