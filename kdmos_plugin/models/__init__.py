"""Models: segmentors, backbones, layers, losses, the distiller."""
from . import (backbones, data_preprocessors, distillers, layers,  # noqa
               losses, segmentors)
from .data_preprocessors import MOSDataPreprocessor  # noqa: F401
