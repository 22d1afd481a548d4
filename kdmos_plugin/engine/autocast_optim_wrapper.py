"""Mixed-precision training without a grad scaler, on any device (CPU too)."""
from contextlib import contextmanager
from typing import Dict, Union

import torch
from mmengine.logging import print_log
from mmengine.optim import OptimWrapper
from torch import nn

from mmdet3d.registry import OPTIM_WRAPPERS

from ..utils.native_kernels import has_native_kernels

#: dtype names accepted by :class:`AutocastOptimWrapper`.
AUTOCAST_DTYPES = ('bfloat16', 'float16')


@OPTIM_WRAPPERS.register_module()
class AutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under ``torch.autocast``.

    mmengine's ``AmpOptimWrapper`` asserts a CUDA/NPU/MLU device (0.10.7),
    so it cannot train on a CPU. bf16 has float32's exponent range, so it
    needs no loss scaling: this wrapper only enters
    ``torch.autocast(device_type, dtype)`` around the forward and the loss
    (``optim_context``, i.e. ``train_step``'s forward); the backward and
    the optimizer step run on the float32 weights as usual. The device type
    is the one of the model's parameters. ``float16`` is refused on CPU
    and should use ``AmpOptimWrapper`` (with its scaler) on GPUs.

    ``tools/train.py --amp`` picks this wrapper on CPU-only machines.

    Where the device has no native kernels for ``dtype``
    (:func:`has_native_kernels`), reduced precision is slower than float32
    (about 6x on an AVX2-only CPU). ``native_only=True`` then trains in
    float32 instead (autocast off) and says so once in the log; otherwise
    the wrapper autocasts as asked and warns once that it is emulated.

    Args:
        dtype (str | torch.dtype): ``'bfloat16'`` (default) or
            ``'float16'``.
        native_only (bool): Autocast only where the device computes
            ``dtype`` natively, else float32. Defaults to False.
        **kwargs: As :class:`mmengine.optim.OptimWrapper`.
    """

    def __init__(self, dtype: Union[str, torch.dtype] = 'bfloat16',
                 native_only: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.native_only = bool(native_only)
        #: per device type: whether the forward is autocast (decided once)
        self._autocast: Dict[str, bool] = {}
        if isinstance(dtype, torch.dtype):
            dtype = str(dtype).replace('torch.', '')
        if dtype not in AUTOCAST_DTYPES:
            raise ValueError(f'AutocastOptimWrapper: dtype must be one of '
                             f'{AUTOCAST_DTYPES}, got {dtype!r}')
        self.dtype_name = dtype
        self.cast_dtype = getattr(torch, dtype)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """Gradient-accumulation context of ``OptimWrapper`` + autocast."""
        param = next(model.parameters(), None)
        device_type = param.device.type if param is not None else 'cpu'
        if device_type == 'cpu' and self.cast_dtype == torch.float16:
            raise ValueError('AutocastOptimWrapper: float16 autocast on CPU '
                             'is not supported here; use bfloat16')
        enabled = self._autocast.get(device_type)
        if enabled is None:
            enabled = self._decide(device_type)
        with super().optim_context(model):
            with torch.autocast(device_type=device_type,
                                dtype=self.cast_dtype, enabled=enabled):
                yield

    def _decide(self, device_type: str) -> bool:
        """Whether to autocast on ``device_type``; logs the choice once."""
        name = self.dtype_name
        native = has_native_kernels(device_type, self.cast_dtype)
        enabled = native or not self.native_only
        if not native:
            what = ('training in float32 instead (native_only=True)'
                    if self.native_only else
                    f'{name} autocast is emulated and slower than float32; '
                    'native_only=True would train in float32')
            print_log(f'AutocastOptimWrapper: this {device_type} has no '
                      f'native {name} kernels: {what}', logger='current',
                      level=30)  # logging.WARNING
        self._autocast[device_type] = enabled
        return enabled


def set_amp(cfg, cuda: Union[bool, None] = None) -> None:
    """Switch a config's ``optim_wrapper`` to mixed precision, in place.

    With CUDA: mmengine's ``AmpOptimWrapper`` (fp16 + dynamic loss scale);
    without: :class:`AutocastOptimWrapper` (bf16 autocast). The optimizer,
    clipping and accumulation settings are kept.

    Args:
        cfg (Config): The training config.
        cuda (bool, optional): Override ``torch.cuda.is_available()``.
    """
    cuda = torch.cuda.is_available() if cuda is None else cuda
    wrapper = cfg.optim_wrapper
    wrapper.pop('loss_scale', None)
    wrapper.pop('dtype', None)
    wrapper.pop('native_only', None)  # asked for: autocast, native or not
    if cuda:
        wrapper.type = 'AmpOptimWrapper'
        wrapper.loss_scale = 'dynamic'
    else:
        wrapper.type = 'AutocastOptimWrapper'
        wrapper.dtype = 'bfloat16'
