"""Datasets, KITTI I/O and the synthetic sequence generator."""
from . import transforms  # noqa: F401  (registers the transforms)
from .semantickitti_mos_dataset import SemanticKittiMOSDataset

__all__ = ['SemanticKittiMOSDataset']
from . import synthetic  # noqa: F401  (synthetic sequence generator)
