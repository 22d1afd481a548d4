"""Metrics of kdmos_plugin."""
from .mos_metric import MOSMetric

__all__ = ['MOSMetric']
