output "namespace" {
  description = "Namespace qlat runs in."
  value       = kubernetes_namespace_v1.qlat.metadata[0].name
}

output "service_name" {
  description = "ClusterIP Service in front of the qlat pods."
  value       = kubernetes_service_v1.qlat.metadata[0].name
}

output "url" {
  description = "In-cluster URL of qlat (from outside: kubectl port-forward, or an Ingress)."
  value       = "http://${kubernetes_service_v1.qlat.metadata[0].name}.${kubernetes_namespace_v1.qlat.metadata[0].name}.svc.cluster.local:8080"
}

output "port_forward_command" {
  description = "Reach qlat from this machine at http://127.0.0.1:8080."
  value       = "kubectl -n ${kubernetes_namespace_v1.qlat.metadata[0].name} port-forward svc/${kubernetes_service_v1.qlat.metadata[0].name} 8080:8080"
}

output "grafana_port_forward_command" {
  description = "Reach Grafana (dashboard \"qlat\") at http://127.0.0.1:3000."
  value       = "kubectl -n ${var.monitoring_namespace} port-forward svc/kube-prometheus-stack-grafana 3000:80"
}
