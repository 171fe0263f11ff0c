#!/usr/bin/env python3
"""terraform/qlat.tf describes the same qlat objects as k8s/: compare them.

Parses terraform/qlat.tf and terraform/variables.tf with python-hcl2 and
checks that the settings that matter in production agree with k8s/: ports,
probes, resources, security contexts, rollout strategy, grace period,
preStop, ConfigMap data, Service, PDB, and the HPA's metrics, targets and
behavior. Exit 1 on any difference.
"""

import sys
from pathlib import Path

import hcl2
import yaml

ROOT = Path(__file__).resolve().parent.parent
errors = []


def one(x):
    """python-hcl2 wraps attribute values and blocks in one-element lists."""
    while isinstance(x, list) and len(x) == 1:
        x = x[0]
    return x


def blocks(x):
    return x if isinstance(x, list) and (not x or isinstance(x[0], dict)) else [x]


def tf_resources(path):
    out = {}
    for res in hcl2.load(path.open())["resource"]:
        for rtype, named in res.items():
            for name, body in named.items():
                out[(rtype, name)] = body
    return out


def var_defaults():
    out = {}
    for v in hcl2.load((ROOT / "terraform/variables.tf").open())["variable"]:
        for name, body in v.items():
            if "default" in body:
                out[name] = one(body["default"])
    return out


def same(what, k8s_value, tf_value):
    if k8s_value != tf_value:
        errors.append(f"{what}: k8s {k8s_value!r} != terraform {tf_value!r}")


def k8s_docs():
    docs = {}
    for f in (ROOT / "k8s").glob("*.yaml"):
        for d in yaml.safe_load_all(f.read_text()):
            if d and "kind" in d and "metadata" in d:
                docs[(d["kind"], d["metadata"]["name"])] = d
    return docs


def probe_tf(p):
    p = one(p)
    http = one(p["http_get"])
    return {"path": one(http["path"]), "port": one(http["port"]),
            **{k: one(p[t]) for k, t in (("periodSeconds", "period_seconds"), ("timeoutSeconds", "timeout_seconds"),
                                        ("failureThreshold", "failure_threshold")) if t in p}}


def probe_k8s(p):
    return {"path": p["httpGet"]["path"], "port": p["httpGet"]["port"],
            **{k: p[k] for k in ("periodSeconds", "timeoutSeconds", "failureThreshold") if k in p}}


def sc_tf(sc):
    sc = one(sc)
    out = {}
    for k8s_key, tf_key in (("runAsNonRoot", "run_as_non_root"), ("runAsUser", "run_as_user"), ("runAsGroup", "run_as_group"),
                            ("fsGroup", "fs_group"), ("allowPrivilegeEscalation", "allow_privilege_escalation"),
                            ("readOnlyRootFilesystem", "read_only_root_filesystem"), ("privileged", "privileged")):
        if tf_key in sc:
            out[k8s_key] = one(sc[tf_key])
    if "capabilities" in sc:
        out["capabilities"] = {"drop": one(one(sc["capabilities"])["drop"])}
        if isinstance(out["capabilities"]["drop"], str):
            out["capabilities"]["drop"] = [out["capabilities"]["drop"]]
    if "seccomp_profile" in sc:
        out["seccompProfile"] = {"type": one(one(sc["seccomp_profile"])["type"])}
    return out


def main():
    tf = tf_resources(ROOT / "terraform/qlat.tf")
    defaults = var_defaults()
    k8s = k8s_docs()

    dep_k = k8s[("Deployment", "qlat")]["spec"]
    dep_t = one(tf[("kubernetes_deployment_v1", "qlat")]["spec"])
    same("replicas", dep_k["replicas"], defaults["replicas"])
    ru_k = dep_k["strategy"]["rollingUpdate"]
    ru_t = one(one(dep_t["strategy"])["rolling_update"])
    same("maxUnavailable", str(ru_k["maxUnavailable"]), one(ru_t["max_unavailable"]))
    same("maxSurge", str(ru_k["maxSurge"]), one(ru_t["max_surge"]))

    pod_k = dep_k["template"]["spec"]
    pod_t = one(one(dep_t["template"])["spec"])
    same("terminationGracePeriodSeconds", pod_k["terminationGracePeriodSeconds"], one(pod_t["termination_grace_period_seconds"]))
    same("automountServiceAccountToken", pod_k["automountServiceAccountToken"], one(pod_t["automount_service_account_token"]))
    same("pod securityContext", pod_k["securityContext"], sc_tf(pod_t["security_context"]))
    same("topologySpreadConstraints keys", sorted(t["topologyKey"] for t in pod_k["topologySpreadConstraints"]),
         sorted(one(t["topology_key"]) for t in blocks(pod_t["topology_spread_constraint"])))

    c_k = pod_k["containers"][0]
    c_t = one(pod_t["container"])
    same("args", c_k["args"], one(c_t["args"]) if isinstance(one(c_t["args"]), list) else [one(c_t["args"])])
    same("imagePullPolicy", c_k["imagePullPolicy"], one(c_t["image_pull_policy"]))
    port_t = one(c_t["port"])
    same("container port", (c_k["ports"][0]["name"], c_k["ports"][0]["containerPort"]), (one(port_t["name"]), one(port_t["container_port"])))
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        tf_name = {"startupProbe": "startup_probe", "readinessProbe": "readiness_probe", "livenessProbe": "liveness_probe"}[probe]
        same(probe, probe_k8s(c_k[probe]), probe_tf(c_t[tf_name]))
    res_t = one(c_t["resources"])
    same("resources", c_k["resources"], {"requests": one(res_t["requests"]), "limits": one(res_t["limits"])})
    same("container securityContext", c_k["securityContext"], sc_tf(c_t["security_context"]))
    pre_t = one(one(one(one(c_t["lifecycle"])["pre_stop"])["exec"])["command"])
    same("preStop", c_k["lifecycle"]["preStop"]["exec"]["command"], pre_t)
    same("volume mounts", sorted(m["mountPath"] for m in c_k["volumeMounts"]),
         sorted(one(m["mount_path"]) for m in blocks(c_t["volume_mount"])))

    cm_k = k8s[("ConfigMap", "qlat-config")]["data"]
    cm_t = dict(one(tf[("kubernetes_config_map_v1", "qlat")]["data"]))
    cm_t["QLAT_LOG_FORMAT"] = defaults["log_format"] if "var.log_format" in str(cm_t["QLAT_LOG_FORMAT"]) else cm_t["QLAT_LOG_FORMAT"]
    same("ConfigMap qlat-config", cm_k, cm_t)

    svc_k = k8s[("Service", "qlat")]["spec"]["ports"][0]
    svc_t = one(one(tf[("kubernetes_service_v1", "qlat")]["spec"])["port"])
    same("Service port", (svc_k["name"], svc_k["port"], svc_k["targetPort"]),
         (one(svc_t["name"]), one(svc_t["port"]), one(svc_t["target_port"])))

    same("PDB maxUnavailable", str(k8s[("PodDisruptionBudget", "qlat")]["spec"]["maxUnavailable"]),
         one(one(tf[("kubernetes_pod_disruption_budget_v1", "qlat")]["spec"])["max_unavailable"]))

    hpa_k = k8s[("HorizontalPodAutoscaler", "qlat")]["spec"]
    hpa_t = one(tf[("kubernetes_horizontal_pod_autoscaler_v2", "qlat")]["spec"])
    same("HPA minReplicas", hpa_k["minReplicas"], defaults["replicas"])
    same("HPA maxReplicas", hpa_k["maxReplicas"], defaults["max_replicas"])
    metrics_t = blocks(hpa_t["metric"])
    pods_k = next(m for m in hpa_k["metrics"] if m["type"] == "Pods")["pods"]
    pods_t = one(next(m for m in metrics_t if one(m["type"]) == "Pods")["pods"])
    same("HPA pods metric", pods_k["metric"]["name"], one(one(pods_t["metric"])["name"]))
    same("HPA pods target", float(pods_k["target"]["averageValue"]), float(defaults["target_requests_per_second"]))
    cpu_k = next(m for m in hpa_k["metrics"] if m["type"] == "Resource")["resource"]
    same("HPA CPU target", cpu_k["target"]["averageUtilization"], defaults["target_cpu_utilization"])
    beh_t = one(hpa_t["behavior"])
    for direction, tf_dir in (("scaleUp", "scale_up"), ("scaleDown", "scale_down")):
        k = hpa_k["behavior"][direction]
        t = one(beh_t[tf_dir])
        same(f"HPA {direction} window", k["stabilizationWindowSeconds"], one(t["stabilization_window_seconds"]))
        same(f"HPA {direction} selectPolicy", k["selectPolicy"], one(t["select_policy"]))
        same(f"HPA {direction} policies", [(p["type"], p["value"], p["periodSeconds"]) for p in k["policies"]],
             [(one(p["type"]), one(p["value"]), one(p["period_seconds"])) for p in blocks(t["policy"])])

    if errors:
        for e in errors:
            print(f"FAIL {e}", file=sys.stderr)
        return 1
    print("ok   terraform/qlat.tf agrees with k8s/ (deployment, probes, resources, security, config, service, PDB, HPA)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
