variable "kubeconfig_path" {
  description = "Path of the kubeconfig file used by the kubernetes and helm providers."
  type        = string
  default     = "~/.kube/config"
}

variable "kube_context" {
  description = "kubeconfig context to use; null = the file's current context."
  type        = string
  default     = null
}

variable "namespace" {
  description = "Namespace for qlat."
  type        = string
  default     = "qlat"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace)) && length(var.namespace) <= 63
    error_message = "namespace must be a DNS-1123 label."
  }
}

variable "image" {
  description = "qlat container image, preferably by digest: ghcr.io/OWNER/qlat@sha256:... (or :TAG)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9./_-]+(:[A-Za-z0-9._-]+)?(@sha256:[a-f0-9]{64})?$", var.image)) && !endswith(var.image, ":latest")
    error_message = "image must be a lower-case reference with a tag other than latest, or a digest."
  }
}

variable "replicas" {
  description = "Minimum (and initial) number of qlat pods; the HPA scales between this and max_replicas."
  type        = number
  default     = 2

  validation {
    condition     = var.replicas >= 2
    error_message = "replicas must be at least 2 (one pod may be disrupted at a time)."
  }
}

variable "max_replicas" {
  description = "Upper bound of the HorizontalPodAutoscaler."
  type        = number
  default     = 10
}

variable "target_requests_per_second" {
  description = "HPA target: average /predict requests per second per pod (pods metric qlat_http_requests_per_second)."
  type        = number
  default     = 10
}

variable "target_cpu_utilization" {
  description = "HPA target: average CPU utilization in percent of the pods' CPU request."
  type        = number
  default     = 70
}

variable "database_url" {
  description = "QLAT_DATABASE_URL of the shared prediction store: postgres://user:password@host:5432/db (e.g. RDS)."
  type        = string
  sensitive   = true

  validation {
    condition     = startswith(var.database_url, "postgres://") || startswith(var.database_url, "postgresql://")
    error_message = "database_url must be a postgres:// URL: the replicas share one store."
  }
}

variable "admin_token" {
  description = "Bearer token for POST /admin/reload; null disables the endpoint."
  type        = string
  default     = null
  sensitive   = true
}

variable "cpu_webhook_url" {
  description = "Optional JSON webhook for the server's own CPU-peak notifications (QLAT_CPU_WEBHOOK_URL)."
  type        = string
  default     = null
  sensitive   = true
}

variable "log_format" {
  description = "QLAT_LOG_FORMAT: text or json."
  type        = string
  default     = "json"

  validation {
    condition     = contains(["text", "json"], var.log_format)
    error_message = "log_format must be text or json."
  }
}

variable "monitoring_namespace" {
  description = "Namespace for kube-prometheus-stack, prometheus-adapter and metrics-server."
  type        = string
  default     = "monitoring"
}

variable "install_metrics_server" {
  description = "Install metrics-server (the HPA's CPU metric needs the resource metrics API; EKS does not ship it)."
  type        = bool
  default     = true
}

variable "kube_prometheus_stack_version" {
  description = "Chart version of prometheus-community/kube-prometheus-stack."
  type        = string
  default     = "87.0.0"
}

variable "prometheus_adapter_version" {
  description = "Chart version of prometheus-community/prometheus-adapter."
  type        = string
  default     = "5.3.0"
}

variable "metrics_server_version" {
  description = "Chart version of metrics-server/metrics-server."
  type        = string
  default     = "3.13.1"
}

variable "grafana_admin_password" {
  description = "Grafana admin password; null keeps the chart's generated secret."
  type        = string
  default     = null
  sensitive   = true
}

variable "alertmanager_config_path" {
  description = "Optional Alertmanager configuration file (e.g. ../k8s/monitoring/alertmanager-example.yaml, edited); null keeps the chart's."
  type        = string
  default     = null
}
