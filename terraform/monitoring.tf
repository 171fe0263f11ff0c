# Monitoring stack: kube-prometheus-stack (Prometheus Operator, Prometheus,
# Alertmanager, Grafana, kube-state-metrics), prometheus-adapter (custom
# metrics API for the HPA) and metrics-server (resource metrics API).
#
# qlat's ServiceMonitor and alert rules are created through the stack's own
# values (additionalServiceMonitors, additionalPrometheusRulesMap), from the
# same files as k8s/, so that a single `terraform apply` works before the
# Prometheus Operator's CRDs exist.

locals {
  repo_root            = "${path.module}/.."
  alert_rules          = yamldecode(file("${local.repo_root}/k8s/monitoring/rules/qlat-alerts.rules.yaml"))
  adapter_values       = file("${local.repo_root}/k8s/monitoring/prometheus-adapter-values.yaml")
  prometheus_url       = "http://kube-prometheus-stack-prometheus.${var.monitoring_namespace}.svc"
  grafana_password_set = var.grafana_admin_password == null ? [] : [{ name = "grafana.adminPassword", value = var.grafana_admin_password }]

  alertmanager_values = var.alertmanager_config_path == null ? [] : [yamlencode({
    alertmanager = { config = yamldecode(file(var.alertmanager_config_path)) }
  })]
}

resource "helm_release" "metrics_server" {
  count = var.install_metrics_server ? 1 : 0

  name             = "metrics-server"
  repository       = "https://kubernetes-sigs.github.io/metrics-server/"
  chart            = "metrics-server"
  version          = var.metrics_server_version
  namespace        = "kube-system"
  atomic           = true
  cleanup_on_fail  = true
  timeout          = 600
  create_namespace = false
}

resource "helm_release" "kube_prometheus_stack" {
  name             = "kube-prometheus-stack"
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "kube-prometheus-stack"
  version          = var.kube_prometheus_stack_version
  namespace        = var.monitoring_namespace
  create_namespace = true
  atomic           = true
  cleanup_on_fail  = true
  timeout          = 900

  values = concat([yamlencode({
    prometheus = {
      prometheusSpec = {
        # Pick up ServiceMonitors/PrometheusRules of every release and namespace,
        # also those applied with `kubectl apply -k k8s/`.
        serviceMonitorSelectorNilUsesHelmValues = false
        podMonitorSelectorNilUsesHelmValues     = false
        ruleSelectorNilUsesHelmValues           = false
        retention                               = "15d"
      }
      additionalServiceMonitors = [{
        name              = "qlat"
        additionalLabels  = { "app.kubernetes.io/part-of" = "qlat" }
        jobLabel          = "app.kubernetes.io/name"
        selector          = { matchLabels = local.selector_labels }
        namespaceSelector = { matchNames = [var.namespace] }
        endpoints = [{
          port          = "http"
          path          = "/metrics"
          interval      = "15s"
          scrapeTimeout = "10s"
        }]
      }]
    }
    additionalPrometheusRulesMap = {
      qlat = { groups = local.alert_rules.groups }
    }
    grafana = {
      sidecar = {
        dashboards = {
          enabled         = true
          label           = "grafana_dashboard"
          labelValue      = "1"
          searchNamespace = "ALL"
        }
      }
    }
  })], local.alertmanager_values)

  set_sensitive = local.grafana_password_set
}

resource "helm_release" "prometheus_adapter" {
  name             = "prometheus-adapter"
  repository       = "https://prometheus-community.github.io/helm-charts"
  chart            = "prometheus-adapter"
  version          = var.prometheus_adapter_version
  namespace        = var.monitoring_namespace
  create_namespace = true
  atomic           = true
  cleanup_on_fail  = true
  timeout          = 600

  # qlat's rule (pods metric qlat_http_requests_per_second) from k8s/, then
  # the address of this stack's Prometheus.
  values = [
    local.adapter_values,
    yamlencode({ prometheus = { url = local.prometheus_url, port = 9090 } }),
  ]

  depends_on = [helm_release.kube_prometheus_stack]
}
