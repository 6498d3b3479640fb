"""Drover executors: the embedded local runner and the Argo Server."""
