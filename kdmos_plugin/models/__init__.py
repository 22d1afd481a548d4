"""Models: segmentors, backbones, layers, losses, the distiller, wrappers."""
from . import (backbones, data_preprocessors, distillers, layers,  # noqa
               losses, segmentors, wrappers)
from .data_preprocessors import MOSDataPreprocessor  # noqa: F401
