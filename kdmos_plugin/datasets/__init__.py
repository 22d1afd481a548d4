"""Datasets, KITTI I/O and the synthetic sequence generator."""
from . import transforms  # noqa: F401  (registers the transforms)
from .helimos_dataset import HeLiMOSDataset
from .semantickitti_mos_dataset import SemanticKittiMOSDataset

__all__ = ['SemanticKittiMOSDataset', 'HeLiMOSDataset']
from . import synthetic  # noqa: F401  (synthetic sequence generator)
