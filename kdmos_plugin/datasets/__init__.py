"""Datasets, KITTI I/O, label maps, the polar grid and motion features."""
from . import transforms  # noqa: F401  (registers the transforms)
from .helimos_dataset import HeLiMOSDataset
from .semantickitti_mos_dataset import SemanticKittiMOSDataset

__all__ = ['SemanticKittiMOSDataset', 'HeLiMOSDataset']
