"""Component Hub server: a versioned registry of Kubeflow Pipelines components."""

__version__ = "0.1.0"
