"""Polling the systems teams already run: Kubernetes clusters and CI providers (GitHub, GitLab)."""
