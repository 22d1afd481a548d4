"""Inference-time rewrites of a network: BatchNorm folding, reduced precision.

Both work on any module tree, by walking it, so they follow the student's
layers wherever they live:

* :func:`fuse_conv_bn_` folds every eval-mode ``BatchNorm2d`` that directly
  follows a ``Conv2d`` inside an ``nn.Sequential`` into that convolution and
  replaces the norm by ``nn.Identity`` (the activation after it stays, in
  place).
* :func:`fuse_conv_act_` replaces every eval-mode
  :class:`~kdmos_plugin.models.layers.bev_unet_blocks.CircularConvBNAct` by
  a :class:`FusedCircularConvAct`: the folded convolution with its
  LeakyReLU applied inside oneDNN's convolution (a post-op: the map is
  written once, not written then rewritten by the activation); and every
  ``CoAttentionGate`` by a :class:`FusedCoAttentionGate` (the same gate with
  fewer passes over its full-size maps).
* :func:`to_reduced_precision_` casts a network to bf16/fp16 with
  channels_last weights, keeping named module types in float32 behind a
  :class:`Float32Island` (DySample's ``grid_sample`` needs float32 sampling
  positions: bf16 rounds a coordinate of a 120-column map by up to half a
  pixel, and torch 2.13's CPU ``grid_sample`` on bf16 channels_last input
  returns garbage).
"""
from typing import Iterable, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils.native_kernels import has_native_kernels

#: Module type names kept in float32 by :func:`to_reduced_precision_`.
DEFAULT_FP32_MODULES = ('DySample', )


def folded_conv_bn(conv: nn.Conv2d,
                   norm: _BatchNorm) -> Tuple[Tensor, Tensor]:
    """Weight (O, I/g, kh, kw) and bias (O,) of ``norm(conv(x))`` in eval.

    ``y = gamma * (conv(x) - mean) / sqrt(var + eps) + beta``, computed in
    float64 and returned in the convolution's dtype.
    """
    if norm.running_mean is None or norm.running_var is None:
        raise ValueError(f'fuse_conv_bn_: {norm} keeps no running statistics '
                         f'(track_running_stats=False) and cannot be folded')
    w = conv.weight.detach().to(torch.float64)
    b = (conv.bias.detach().to(torch.float64) if conv.bias is not None else
         torch.zeros(w.shape[0], dtype=torch.float64, device=w.device))
    var = norm.running_var.detach().to(torch.float64)
    mean = norm.running_mean.detach().to(torch.float64)
    gamma = (norm.weight.detach().to(torch.float64)
             if norm.weight is not None else torch.ones_like(var))
    beta = (norm.bias.detach().to(torch.float64)
            if norm.bias is not None else torch.zeros_like(var))
    scale = gamma / torch.sqrt(var + norm.eps)
    dtype = conv.weight.dtype
    return ((w * scale.view(-1, 1, 1, 1)).to(dtype),
            ((b - mean) * scale + beta).to(dtype))


def _require_eval(model: nn.Module, name: str) -> None:
    """Raise ``RuntimeError`` unless ``model`` is in eval mode (folding
    uses the running statistics)."""
    if model.training:
        raise RuntimeError(f'{name}: call model.eval() first; folding uses '
                           'the running statistics')


def fuse_conv_bn_(model: nn.Module) -> int:
    """Fold ``Conv2d -> BatchNorm2d`` pairs of every ``nn.Sequential``.

    In place; ``model`` must be in eval mode (the folded network computes
    the eval-mode output). A ``BatchNorm`` that does not follow a
    convolution is left as it is.

    Args:
        model (nn.Module): Any module tree.

    Returns:
        int: The number of pairs folded.

    Raises:
        RuntimeError: ``model`` is in training mode.
    """
    _require_eval(model, 'fuse_conv_bn_')
    count = 0
    for seq in model.modules():
        if not isinstance(seq, nn.Sequential):
            continue
        names = list(seq._modules)
        for first, second in zip(names, names[1:]):
            conv, norm = seq._modules[first], seq._modules[second]
            if isinstance(conv, nn.Conv2d) and isinstance(norm, _BatchNorm) \
                    and norm.num_features == conv.out_channels:
                weight, bias = folded_conv_bn(conv, norm)
                conv.weight = nn.Parameter(weight, requires_grad=False)
                conv.bias = nn.Parameter(bias, requires_grad=False)
                seq._modules[second] = nn.Identity()
                count += 1
    return count


def conv_leaky_relu(x: Tensor, weight: Tensor, bias: Tensor,
                    padding: List[int], slope: float) -> Tensor:
    """``leaky_relu(conv2d(x, weight, bias, padding=padding), slope)``
    (stride 1, no dilation, one group).

    On CPU with oneDNN (and outside an ONNX trace) the activation is a
    post-op of oneDNN's convolution (``mkldnn._convolution_pointwise``,
    the kernel ``torch.compile`` fuses into); elsewhere (also bf16/fp16 on
    a CPU without AVX-512, where that op refuses them), and while
    ``torch.compile`` traces (which fuses the two itself; the eager op
    would break its graph), two calls. Equal in
    float32; in bf16/fp16 the activation sees the unrounded sum (one
    rounding fewer).

    Args:
        x (Tensor): (B, C_in, H, W).
        weight (Tensor): (C_out, C_in, kh, kw).
        bias (Tensor): (C_out,).
        padding (list[int]): Zero padding (rows, columns).
        slope (float): Negative slope.
    """
    if x.device.type == 'cpu' and not x.requires_grad and \
            not torch.compiler.is_compiling() and \
            not torch.jit.is_tracing() and \
            torch.backends.mkldnn.is_available() and \
            (x.dtype == torch.float32 or has_native_kernels('cpu', x.dtype)):
        return torch.ops.mkldnn._convolution_pointwise(
            x, weight, bias, padding, [1, 1], [1, 1], 1, 'leaky_relu',
            [slope], '')
    return F.leaky_relu(F.conv2d(x, weight, bias, padding=padding), slope)


class FusedCircularConvAct(nn.Module):
    """Inference form of ``CircularConvBNAct``: BN folded, circular in
    azimuth without a padded copy, LeakyReLU fused into the convolution.

    ``out = act(conv(x))`` zero-padded on both axes, then the two wrapped
    border columns ``P-1`` and 0 recomputed from the 4 columns
    ``P-2, P-1, 0, 1`` (as ``circular_conv3x3``); the activation is
    element-wise, so applying it to both parts equals applying it after.

    Args:
        block (nn.Module): An eval-mode ``CircularConvBNAct``.
    """

    #: Read by ``CoAttentionGate``: the block after it takes its fast path.
    fuse_eval = True

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        weight, bias = block.folded_weights()
        self.weight = nn.Parameter(weight.detach().clone(),
                                   requires_grad=False)
        self.bias = nn.Parameter(bias.detach().clone(), requires_grad=False)
        self.slope = float(block[2].negative_slope)

    def forward(self, x: Tensor) -> Tensor:
        """(B, C_in, R, P) -> (B, C_out, R, P), P >= 2."""
        out = conv_leaky_relu(x, self.weight, self.bias, [1, 1], self.slope)
        edge = conv_leaky_relu(torch.cat([x[..., -2:], x[..., :2]], dim=-1),
                               self.weight, self.bias, [1, 0], self.slope)
        out[..., -1:] = edge[..., :1]
        out[..., :1] = edge[..., 1:]
        return out


def fuse_conv_act_(model: nn.Module) -> int:
    """Replace every ``CircularConvBNAct`` of ``model`` (eval mode, with
    ``fuse_eval``) by a :class:`FusedCircularConvAct`, in place.

    Returns:
        int: The number of blocks replaced.

    Raises:
        RuntimeError: ``model`` is in training mode.
    """
    from ..models.layers.bev_unet_blocks import CircularConvBNAct
    _require_eval(model, 'fuse_conv_act_')
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, CircularConvBNAct) and child.fuse_eval:
                with torch.no_grad():
                    parent._modules[name] = FusedCircularConvAct(child)
                count += 1
    return count


class FusedCoAttentionGate(nn.Module):
    """Inference form of ``CoAttentionGate`` (and its motion-guided
    attention): the same formula with fewer passes over the (B, C_a, H, W)
    maps. With ``s_a, s_m`` the global gate scores::

        sp  = sigmoid(s_m * conv1x1(f_m) + b)        (B, 1, H, W): the
              spatial conv of the gated motion, which is never built
        x   = f_a * (s_a * sp)                       one pass
        v   = softmax(channel_conv(mean_hw(x))) * C_a
        out = addcmul(f_a * s_a, x, v)               two passes

    (the module computes ``f_a * s_a``, ``f_m * s_m``, ``sp * .``, ``x * v``
    and ``+`` as five passes). Equal up to float rounding.

    Args:
        gate (nn.Module): An eval-mode ``CoAttentionGate`` (its
            ``fuse_conv`` already fused or not).
    """

    def __init__(self, gate: nn.Module) -> None:
        super().__init__()
        self.fuse_conv = gate.fuse_conv
        self.gate_conv = gate.gate_conv
        self.spatial_conv = gate.mga.spatial_conv
        self.channel_conv = gate.mga.channel_conv

    def forward(self, f_a: Tensor, f_m: Tensor) -> Tensor:
        """f_a (B, C_a, H, W), f_m (B, C_m, H, W) -> (B, C_a, H, W)."""
        from ..models.layers.bev_unet_blocks import circular_conv3x3
        g = self.fuse_conv(torch.cat([f_a, f_m], dim=1))
        g = circular_conv3x3(g, self.gate_conv.weight, self.gate_conv.bias)
        s = torch.sigmoid(g).mean(dim=(2, 3), keepdim=True)  # (B, 2, 1, 1)
        s_a, s_m = s[:, 0:1], s[:, 1:2]
        spatial = F.conv2d(f_m, self.spatial_conv.weight)  # (B, 1, H, W)
        sp = torch.sigmoid(torch.addcmul(
            self.spatial_conv.bias.view(1, -1, 1, 1), spatial, s_m))
        x = f_a * (sp * s_a)
        v = self.channel_conv(x.mean(dim=(2, 3), keepdim=True))
        v = torch.softmax(v, dim=1) * v.shape[1]
        return torch.addcmul(f_a * s_a, x, v)


def fuse_gates_(model: nn.Module) -> int:
    """Replace every ``CoAttentionGate`` of ``model`` (eval mode) by a
    :class:`FusedCoAttentionGate`, in place.

    Returns:
        int: The number of gates replaced.

    Raises:
        RuntimeError: ``model`` is in training mode.
    """
    from ..models.layers.co_attention_gate import CoAttentionGate
    if model.training:
        raise RuntimeError('fuse_gates_: call model.eval() first')
    count = 0
    for parent in list(model.modules()):
        for name, child in list(parent._modules.items()):
            if isinstance(child, CoAttentionGate):
                parent._modules[name] = FusedCoAttentionGate(child)
                count += 1
    return count


class Float32Island(nn.Module):
    """Run a module in float32 inside a reduced-precision network.

    The input is made contiguous and cast to float32, the module runs with
    its own float32 weights, and the output is cast back to the input's
    dtype, then to its memory format.

    Args:
        module (nn.Module): A float32 module, (B, C, H, W) in and out.
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) of any float dtype -> the module's output, same
        dtype and memory format as ``x``."""
        fmt = (torch.channels_last
               if x.dim() == 4 and x.is_contiguous(
                   memory_format=torch.channels_last) and
               not x.is_contiguous() else torch.contiguous_format)
        # layout changes are done on the 2-byte side (a transposing copy
        # that also converts is about 2-3x slower than the two apart)
        out = self.module(x if x.dtype == torch.float32 else
                          x.contiguous().float())
        if out.dtype == x.dtype and out.is_contiguous(memory_format=fmt):
            return out
        return out.to(x.dtype).contiguous(memory_format=fmt)


def to_reduced_precision_(model: nn.Module,
                          dtype: torch.dtype = torch.bfloat16,
                          channels_last: bool = True,
                          fp32_modules: Iterable[str] = DEFAULT_FP32_MODULES
                          ) -> nn.Module:
    """Cast ``model`` in place to ``dtype`` (and channels_last weights).

    Submodules whose type name is in ``fp32_modules`` stay float32 and are
    wrapped in :class:`Float32Island`. Fold BatchNorms first
    (:func:`fuse_conv_bn_`, in float64), so that the folded weights are
    rounded once.

    Args:
        model (nn.Module): The network (eval mode).
        dtype (torch.dtype): ``torch.bfloat16`` or ``torch.float16``;
            ``torch.float32`` only converts the memory format.
        channels_last (bool): Convert 4-D weights to channels_last.
        fp32_modules (Iterable[str]): Type names kept in float32.

    Returns:
        nn.Module: ``model``.
    """
    keep = set(fp32_modules)
    islands = []
    for parent in list(model.modules()):
        for name, child in list(parent._modules.items()):
            if child is not None and type(child).__name__ in keep:
                island = Float32Island(child)
                parent._modules[name] = island
                islands.append(island)
    model.to(dtype)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    for island in islands:
        island.module.float()
        if channels_last:
            island.module.to(memory_format=torch.contiguous_format)
    return model
