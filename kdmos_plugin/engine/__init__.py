"""Training-loop parts registered into mmdet3d's registries."""
from .autocast_optim_wrapper import AutocastOptimWrapper, set_amp
from .epoch_exponential_lr import EpochExponentialLR

__all__ = ['AutocastOptimWrapper', 'EpochExponentialLR', 'set_amp']
