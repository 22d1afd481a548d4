"""MOS metric and benchmark submission writer."""
from .metrics import MOSMetric  # noqa: F401
