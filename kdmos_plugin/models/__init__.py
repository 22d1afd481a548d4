"""Models: segmentors, voxel encoders, backbones, decode heads, layers,
losses, the distiller, wrappers."""
from . import (backbones, data_preprocessors, decode_heads,  # noqa
               distillers, layers, losses, segmentors, voxel_encoders,
               wrappers)
from .data_preprocessors import MOSDataPreprocessor  # noqa: F401
