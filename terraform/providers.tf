# Both providers talk to the cluster of the given kubeconfig and context
# (for EKS: `aws eks update-kubeconfig --name <cluster>` first, see README.md).
provider "kubernetes" {
  config_path    = var.kubeconfig_path
  config_context = var.kube_context
}

provider "helm" {
  kubernetes = {
    config_path    = var.kubeconfig_path
    config_context = var.kube_context
  }
}
