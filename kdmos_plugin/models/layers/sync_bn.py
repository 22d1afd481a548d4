"""Synchronised BatchNorm that runs on any device (gloo on CPU, NCCL on GPU).

torch's ``nn.SyncBatchNorm`` refuses CPU tensors ("SyncBatchNorm expected
input tensor to be on GPU"). :class:`DistSyncBatchNorm` computes the batch
statistics of all processes with one autograd-aware all-reduce of the
per-channel (sum, sum of squares, count) and otherwise follows torch's
BatchNorm exactly, so a distributed CPU training normalises with the
statistics of the global batch and keeps the same running statistics on
every rank.
"""
from typing import Optional

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdet3d.registry import MODELS


class _AllReduceSum(torch.autograd.Function):
    """Sum over the processes of a group; the gradient is summed likewise.

    Every rank's loss depends on the sum of every rank's input, so the
    gradient of the total loss with respect to one rank's input is the sum
    of the incoming gradients of all ranks.
    """

    @staticmethod
    def forward(ctx, tensor: Tensor, group) -> Tensor:  # noqa: D102
        ctx.group = group
        out = tensor.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(out, op=dist.ReduceOp.SUM, group=group)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):  # noqa: D102
        grad = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad, None


def all_reduce_sum(tensor: Tensor, group=None) -> Tensor:
    """Differentiable sum of ``tensor`` over the processes of ``group``.

    Args:
        tensor (Tensor): Any shape, the same on every rank.
        group (ProcessGroup, optional): Defaults to the world group.

    Returns:
        Tensor: The element-wise sum, identical on every rank.
    """
    return _AllReduceSum.apply(tensor, group)


@MODELS.register_module('DistSyncBN')
class DistSyncBatchNorm(_BatchNorm):
    """BatchNorm over the union of the batches of all processes.

    Training mode with an initialised process group of two or more
    processes::

        s, q, n = sum(x), sum(x * x), count       # per channel, this rank
        S, Q, N = all_reduce_sum([s, q, n])       # autograd-aware
        mean = S / N; var = Q / N - mean ** 2     # biased, for normalising
        y = (x - mean) / sqrt(var + eps) * weight + bias
        running_var <- (1 - m) running_var + m * var * N / (N - 1)

    with ``m`` the momentum, or ``1 / num_batches_tracked`` when it is
    ``None`` (torch's cumulative average). A rank may hold no elements
    (count 0); it still takes part in both all-reduces (forward and
    backward), so the other ranks are not blocked. Statistics are reduced in
    float64; half-precision inputs are normalised in float32.

    In eval mode, without a process group, or with one process it is
    exactly :class:`torch.nn.BatchNorm2d` (any input dimension). Registered
    as ``DistSyncBN`` so ``norm_cfg=dict(type='DistSyncBN')`` builds it
    through ``mmcv.cnn.build_norm_layer``; :func:`convert_sync_batchnorm`
    converts an existing model.

    Args:
        num_features (int): C, the channels of the (N, C, *) input.
        eps (float): Added to the variance.
        momentum (float, optional): Running-statistics factor; ``None``
            for the cumulative average.
        affine (bool): Learnable per-channel weight and bias.
        track_running_stats (bool): Keep running mean and variance.
        process_group (ProcessGroup, optional): The processes to
            synchronise; defaults to the world group.
        device, dtype: Passed to the parameters and buffers.

    Examples:
        >>> bn = DistSyncBatchNorm(64)
        >>> bn(torch.randn(4, 64, 32, 32)).shape
        torch.Size([4, 64, 32, 32])
    """

    def __init__(self,
                 num_features: int,
                 eps: float = 1e-5,
                 momentum: Optional[float] = 0.1,
                 affine: bool = True,
                 track_running_stats: bool = True,
                 process_group=None,
                 device=None,
                 dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine,
                         track_running_stats, device=device, dtype=dtype)
        self.process_group = process_group

    def _check_input_dim(self, input: Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f'{type(self).__name__}: expected an (N, C, *) '
                             f'input, got shape {tuple(input.shape)}')
        if input.shape[1] != self.num_features:
            raise ValueError(
                f'{type(self).__name__}: expected {self.num_features} '
                f'channels in dim 1, got shape {tuple(input.shape)}')

    def _sync_world_size(self) -> int:
        """Processes to synchronise with now; 1 means plain BatchNorm."""
        if not (self.training and dist.is_available()
                and dist.is_initialized()):
            return 1
        return dist.get_world_size(self.process_group)

    def forward(self, input: Tensor) -> Tensor:
        """Normalise (N, C, *) -> (N, C, *) with the global batch statistics.

        Args:
            input (Tensor): (N, C, *) features; N may be 0 on some ranks.

        Returns:
            Tensor: Same shape and dtype as ``input``.
        """
        if self._sync_world_size() == 1:
            return super().forward(input)
        self._check_input_dim(input)
        channels = self.num_features
        dims = [0] + list(range(2, input.dim()))
        x = input.float() if input.dtype in (torch.float16,
                                             torch.bfloat16) else input
        local_count = x.numel() // channels
        local = torch.cat([
            x.sum(dims).double(), (x * x).sum(dims).double(),
            torch.full((1, ), local_count, dtype=torch.float64,
                       device=x.device)
        ])
        total = all_reduce_sum(local, self.process_group)
        count = total[2 * channels]
        if local_count <= 1 and float(count) <= 1:
            raise ValueError(
                f'{type(self).__name__}: expected more than 1 value per '
                f'channel over all processes when training, got '
                f'{int(count)} (input shape on this rank '
                f'{tuple(input.shape)})')
        mean = total[:channels] / count
        var = (total[channels:2 * channels] / count - mean * mean).clamp(
            min=0)

        if self.track_running_stats:
            self.num_batches_tracked.add_(1)
            factor = (1.0 / float(self.num_batches_tracked)
                      if self.momentum is None else self.momentum)
            with torch.no_grad():
                unbiased = var * (count / (count - 1))
                self.running_mean.mul_(1 - factor).add_(
                    mean.to(self.running_mean.dtype), alpha=factor)
                self.running_var.mul_(1 - factor).add_(
                    unbiased.to(self.running_var.dtype), alpha=factor)

        shape = (1, channels) + (1, ) * (input.dim() - 2)
        scale = torch.rsqrt(var + self.eps).to(x.dtype)
        if self.affine:
            scale = scale * self.weight.to(x.dtype)
        out = (x - mean.to(x.dtype).view(shape)) * scale.view(shape)
        if self.affine:
            out = out + self.bias.to(x.dtype).view(shape)
        return out.to(input.dtype)


def convert_sync_batchnorm(module: nn.Module,
                           process_group=None) -> nn.Module:
    """Replace every BatchNorm of ``module`` by :class:`DistSyncBatchNorm`.

    Converts ``BatchNorm1d/2d/3d``, torch's ``SyncBatchNorm`` and any other
    ``_BatchNorm`` subclass (e.g. mmcv's ``SyncBatchNorm``), like
    ``mmengine.model.convert_sync_batchnorm``: the new layer shares the
    weight and bias parameters and the running-statistics buffers of the
    old one and keeps its eps, momentum, flags, training mode and
    ``qconfig``; state-dict keys do not change, so checkpoints load into
    the unconverted model. ``DistSyncBatchNorm`` layers are kept as they
    are; there is no revert, since in one process it is BatchNorm anyway.

    Args:
        module (nn.Module): The model (changed in place where possible).
        process_group (ProcessGroup, optional): Group to synchronise over.

    Returns:
        nn.Module: ``module``, or the new layer if ``module`` itself is a
        BatchNorm.
    """
    out = module
    if (isinstance(module, _BatchNorm)
            and not isinstance(module, DistSyncBatchNorm)):
        out = DistSyncBatchNorm(module.num_features, module.eps,
                                module.momentum, module.affine,
                                module.track_running_stats, process_group)
        if module.affine:
            with torch.no_grad():
                out.weight = module.weight
                out.bias = module.bias
        out.running_mean = module.running_mean
        out.running_var = module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
        if hasattr(module, 'qconfig'):
            out.qconfig = module.qconfig
    for name, child in module.named_children():
        out.add_module(name, convert_sync_batchnorm(child, process_group))
    return out
