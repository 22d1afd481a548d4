"""Training-loop parts registered into mmdet3d's registries."""
from .epoch_exponential_lr import EpochExponentialLR

__all__ = ['EpochExponentialLR']
