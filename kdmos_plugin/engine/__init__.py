"""Training-loop parts registered into mmdet3d's registries."""
from .autocast_optim_wrapper import AutocastOptimWrapper, set_amp
from .epoch_exponential_lr import EpochExponentialLR
from .setup_check import (MOSSetupCheckHook, SetupMismatchError,
                          check_data_model)

__all__ = ['AutocastOptimWrapper', 'EpochExponentialLR', 'MOSSetupCheckHook',
           'SetupMismatchError', 'check_data_model', 'set_amp']
