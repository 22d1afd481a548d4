"""Pick spconv's convolution algorithm from the device of the data.

spconv's implicit-GEMM algorithms (its defaults for kernels of <= 32 taps)
call ``torch.cuda.current_stream()`` and so fail on a CPU-only torch build
("Torch not compiled with CUDA enabled"). ``ConvAlgo.Native`` (gather-GEMM-
scatter) runs forward and backward on CPU tensors. Every sparse layer of this
plugin, and mmdet3d's own spconv models, go through this one module:

>>> from mmdet3d.models.backbones import MinkUNetBackbone
>>> net = MinkUNetBackbone(sparseconv_backend='spconv')
>>> set_spconv_algo(net, 'cpu')        # once, for a fixed device
>>> auto_spconv_algo(net)               # or: follow the input's device

The weight layout of spconv 2.3 does not depend on the algorithm
(``ALL_WEIGHT_IS_KRSC``), so switching is free and checkpoints stay valid.
"""
import warnings
from typing import Optional, Union

import torch
from torch import nn

try:  # spconv is optional for the student-only installs
    with warnings.catch_warnings():
        # spconv 2.3.6 uses torch.cuda.amp.custom_fwd, deprecated in torch 2.4
        warnings.filterwarnings('ignore', category=FutureWarning)
        from spconv.core import ConvAlgo
        from spconv.pytorch.conv import SparseConvolution
except ImportError:  # pragma: no cover - exercised only without spconv
    ConvAlgo = None
    SparseConvolution = None

_DEFAULT_ATTR = '_kdmos_default_algo'


def _device_type(device: Union[str, torch.device, None]) -> str:
    return torch.device(device if device is not None else 'cpu').type


def set_spconv_algo(module: nn.Module,
                    device: Union[str, torch.device, None] = 'cpu') -> int:
    """Set ``.algo`` of every spconv layer in ``module`` for ``device``.

    On CPU every layer gets ``ConvAlgo.Native``; on any other device each
    layer gets back the algorithm spconv chose when it was built.

    Args:
        module (nn.Module): Any module; non-spconv children are untouched.
        device (str | torch.device): Device the layers will run on.

    Returns:
        int: Number of spconv layers found.
    """
    if SparseConvolution is None:
        return 0
    on_cpu = _device_type(device) == 'cpu'
    count = 0
    for layer in module.modules():
        if isinstance(layer, SparseConvolution):
            if not hasattr(layer, _DEFAULT_ATTR):
                setattr(layer, _DEFAULT_ATTR, layer.algo)
            layer.algo = ConvAlgo.Native if on_cpu else getattr(
                layer, _DEFAULT_ATTR)
            count += 1
    return count


def _first_tensor_device(obj) -> Optional[torch.device]:
    """Device of the first tensor found in (nested) forward arguments."""
    if isinstance(obj, torch.Tensor):
        return obj.device
    features = getattr(obj, 'features', None)  # spconv.SparseConvTensor
    if isinstance(features, torch.Tensor):
        return features.device
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (list, tuple)):
        for item in obj:
            device = _first_tensor_device(item)
            if device is not None:
                return device
    return None


def auto_spconv_algo(module: nn.Module) -> nn.Module:
    """Make ``module`` switch its spconv algorithms to its input's device.

    Registers a forward pre-hook that calls :func:`set_spconv_algo` whenever
    the device of the input differs from the previous call. Returns
    ``module`` for chaining.
    """
    state = {'device': None}

    def hook(mod, args, kwargs):
        device = _first_tensor_device((args, kwargs))
        if device is not None and device != state['device']:
            set_spconv_algo(mod, device)
            state['device'] = device

    module.register_forward_pre_hook(hook, with_kwargs=True)
    return module
