# qlat itself: the same objects as k8s/ (kept in step by hand; the shared
# store is the external PostgreSQL of var.database_url, so no StatefulSet).

locals {
  selector_labels = {
    "app.kubernetes.io/name"      = "qlat"
    "app.kubernetes.io/component" = "server"
  }
  labels = merge(local.selector_labels, {
    "app.kubernetes.io/part-of"    = "qlat"
    "app.kubernetes.io/managed-by" = "terraform"
  })
  secret_env = merge(
    { QLAT_DATABASE_URL = var.database_url },
    var.admin_token == null ? {} : { QLAT_ADMIN_TOKEN = var.admin_token },
    var.cpu_webhook_url == null ? {} : { QLAT_CPU_WEBHOOK_URL = var.cpu_webhook_url },
  )
}

resource "kubernetes_namespace_v1" "qlat" {
  metadata {
    name = var.namespace
    labels = {
      "app.kubernetes.io/part-of"                  = "qlat"
      "pod-security.kubernetes.io/enforce"         = "restricted"
      "pod-security.kubernetes.io/enforce-version" = "latest"
      "pod-security.kubernetes.io/warn"            = "restricted"
      "pod-security.kubernetes.io/audit"           = "restricted"
    }
  }
}

resource "kubernetes_service_account_v1" "qlat" {
  metadata {
    name      = "qlat"
    namespace = kubernetes_namespace_v1.qlat.metadata[0].name
    labels    = local.labels
  }
  automount_service_account_token = false
}

resource "kubernetes_config_map_v1" "qlat" {
  metadata {
    name      = "qlat-config"
    namespace = kubernetes_namespace_v1.qlat.metadata[0].name
    labels    = local.labels
  }
  data = {
    QLAT_ADDR               = "0.0.0.0:8080"
    QLAT_ARTIFACTS          = "artifacts/"
    QLAT_LOG_FORMAT         = var.log_format
    QLAT_CPU_PEAK_THRESHOLD = "80"
    QLAT_CPU_PEAK_WINDOW    = "30s"
    QLAT_SPOOL_DIR          = "/var/lib/qlat/spool"
    QLAT_SPOOL_MAX_BYTES    = "134217728"
    RUST_LOG                = "info"
  }
}

resource "kubernetes_secret_v1" "qlat" {
  metadata {
    name      = "qlat-secrets"
    namespace = kubernetes_namespace_v1.qlat.metadata[0].name
    labels    = local.labels
  }
  type = "Opaque"
  data = local.secret_env
}

resource "kubernetes_deployment_v1" "qlat" {
  # checkov:skip=CKV_K8S_14:The image is var.image, whose validation rejects :latest and untagged references.
  # checkov:skip=CKV_K8S_43:var.image may be a tag for manual runs; CD passes the digest it pushed.
  metadata {
    name      = "qlat"
    namespace = kubernetes_namespace_v1.qlat.metadata[0].name
    labels    = local.labels
  }

  spec {
    replicas               = var.replicas
    revision_history_limit = 5

    selector {
      match_labels = local.selector_labels
    }

    strategy {
      type = "RollingUpdate"
      rolling_update {
        max_unavailable = "0"
        max_surge       = "1"
      }
    }

    template {
      metadata {
        labels = local.labels
        annotations = {
          # Roll the pods when settings or secrets change.
          "checksum/config"  = sha256(jsonencode(kubernetes_config_map_v1.qlat.data))
          "checksum/secrets" = sha256(jsonencode(local.secret_env))
        }
      }

      spec {
        service_account_name             = kubernetes_service_account_v1.qlat.metadata[0].name
        automount_service_account_token  = false
        enable_service_links             = false
        restart_policy                   = "Always"
        termination_grace_period_seconds = 45

        security_context {
          run_as_non_root = true
          run_as_user     = 10001
          run_as_group    = 10001
          fs_group        = 10001
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        topology_spread_constraint {
          max_skew           = 1
          topology_key       = "kubernetes.io/hostname"
          when_unsatisfiable = "ScheduleAnyway"
          label_selector {
            match_labels = local.selector_labels
          }
        }

        topology_spread_constraint {
          max_skew           = 1
          topology_key       = "topology.kubernetes.io/zone"
          when_unsatisfiable = "ScheduleAnyway"
          label_selector {
            match_labels = local.selector_labels
          }
        }

        container {
          name              = "qlat"
          image             = var.image
          image_pull_policy = "Always"
          args              = ["serve"]

          port {
            name           = "http"
            container_port = 8080
            protocol       = "TCP"
          }

          env_from {
            config_map_ref {
              name = kubernetes_config_map_v1.qlat.metadata[0].name
            }
          }

          env_from {
            secret_ref {
              name = kubernetes_secret_v1.qlat.metadata[0].name
            }
          }

          resources {
            requests = {
              cpu    = "500m"
              memory = "256Mi"
            }
            limits = {
              cpu    = "1"
              memory = "512Mi"
            }
          }

          startup_probe {
            http_get {
              path = "/health_check/live"
              port = "http"
            }
            period_seconds    = 2
            timeout_seconds   = 2
            failure_threshold = 60
          }

          readiness_probe {
            http_get {
              path = "/health_check"
              port = "http"
            }
            period_seconds    = 5
            timeout_seconds   = 2
            failure_threshold = 2
          }

          liveness_probe {
            http_get {
              path = "/health_check/live"
              port = "http"
            }
            period_seconds    = 10
            timeout_seconds   = 3
            failure_threshold = 6
          }

          lifecycle {
            pre_stop {
              exec {
                command = ["sleep", "5"]
              }
            }
          }

          security_context {
            run_as_non_root            = true
            run_as_user                = 10001
            run_as_group               = 10001
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            privileged                 = false
            capabilities {
              drop = ["ALL"]
            }
            seccomp_profile {
              type = "RuntimeDefault"
            }
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }

          volume_mount {
            name       = "data"
            mount_path = "/var/lib/qlat"
          }
        }

        volume {
          name = "tmp"
          empty_dir {
            size_limit = "64Mi"
          }
        }

        volume {
          name = "data"
          empty_dir {
            size_limit = "256Mi"
          }
        }
      }
    }
  }

  wait_for_rollout = true

  lifecycle {
    # The HorizontalPodAutoscaler owns the replica count after creation.
    ignore_changes = [spec[0].replicas]
  }
}

resource "kubernetes_service_v1" "qlat" {
  metadata {
    name      = "qlat"
    namespace = kubernetes_namespace_v1.qlat.metadata[0].name
    labels    = local.labels
  }
  spec {
    type     = "ClusterIP"
    selector = local.selector_labels
    port {
      name        = "http"
      port        = 8080
      target_port = "http"
      protocol    = "TCP"
    }
  }
}

resource "kubernetes_pod_disruption_budget_v1" "qlat" {
  metadata {
    name      = "qlat"
    namespace = kubernetes_namespace_v1.qlat.metadata[0].name
    labels    = local.labels
  }
  spec {
    max_unavailable = "1"
    selector {
      match_labels = local.selector_labels
    }
  }
}

resource "kubernetes_horizontal_pod_autoscaler_v2" "qlat" {
  metadata {
    name      = "qlat"
    namespace = kubernetes_namespace_v1.qlat.metadata[0].name
    labels    = local.labels
  }

  spec {
    min_replicas = var.replicas
    max_replicas = var.max_replicas

    scale_target_ref {
      api_version = "apps/v1"
      kind        = "Deployment"
      name        = kubernetes_deployment_v1.qlat.metadata[0].name
    }

    # Served by prometheus-adapter (k8s/monitoring/prometheus-adapter-values.yaml).
    metric {
      type = "Pods"
      pods {
        metric {
          name = "qlat_http_requests_per_second"
        }
        target {
          type          = "AverageValue"
          average_value = tostring(var.target_requests_per_second)
        }
      }
    }

    metric {
      type = "Resource"
      resource {
        name = "cpu"
        target {
          type                = "Utilization"
          average_utilization = var.target_cpu_utilization
        }
      }
    }

    behavior {
      scale_up {
        stabilization_window_seconds = 30
        select_policy                = "Max"
        policy {
          type           = "Percent"
          value          = 100
          period_seconds = 30
        }
        policy {
          type           = "Pods"
          value          = 4
          period_seconds = 30
        }
      }
      scale_down {
        stabilization_window_seconds = 300
        select_policy                = "Min"
        policy {
          type           = "Pods"
          value          = 1
          period_seconds = 60
        }
        policy {
          type           = "Percent"
          value          = 20
          period_seconds = 60
        }
      }
    }
  }

  depends_on = [helm_release.prometheus_adapter, helm_release.metrics_server]
}

resource "kubernetes_network_policy_v1" "qlat" {
  metadata {
    name      = "qlat"
    namespace = kubernetes_namespace_v1.qlat.metadata[0].name
    labels    = local.labels
  }
  spec {
    pod_selector {
      match_labels = local.selector_labels
    }
    policy_types = ["Ingress"]
    ingress {
      ports {
        port     = "http"
        protocol = "TCP"
      }
    }
  }
}

# Picked up by Grafana's dashboard sidecar (label grafana_dashboard=1, all namespaces).
resource "kubernetes_config_map_v1" "grafana_dashboard" {
  metadata {
    name      = "qlat-grafana-dashboard"
    namespace = kubernetes_namespace_v1.qlat.metadata[0].name
    labels    = merge(local.labels, { grafana_dashboard = "1" })
  }
  data = {
    "grafana-dashboard-qlat.json" = file("${local.repo_root}/k8s/monitoring/grafana-dashboard-qlat.json")
  }
}
