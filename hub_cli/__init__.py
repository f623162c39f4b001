"""The ``hub`` command line and Python SDK for Component Hub."""

__version__ = "0.1.0"
