"""Training-loop parts registered into mmdet3d's registries."""
from .epoch_exponential_lr import EpochExponentialLR
from .setup_check import (MOSSetupCheckHook, SetupMismatchError,
                          check_data_model)

__all__ = ['EpochExponentialLR', 'MOSSetupCheckHook', 'SetupMismatchError',
           'check_data_model']
