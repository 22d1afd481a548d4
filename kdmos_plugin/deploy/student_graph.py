"""The student as one export-friendly graph: points in, per-point logits out.

:class:`StudentGraph` computes what ``KDMOSStudent.forward_feats`` +
``point_logits`` compute for one scan, with operations that every runtime
has (ONNX opset 18: ``ScatterElements`` with ``max``, ``ScatterND``,
``NonZero``, ``CumSum``, ``Gather``, ``GridSample``) and that are fast in
PyTorch too::

    keys    = i_rho * P + i_phi                                    (N,)
    occ     = zeros(R * P)[keys] = 1;  pillars = nonzero(occ)       (V,)
    inverse = (cumsum(occ) - 1)[keys]       the pillar of every point (N,)
    f       = folded point MLP (N, 9) -> (N, 256), no last bias (the
              first layer in float32 in every precision)
    pooled  = full(V, -inf).scatter_reduce(inverse, f, 'amax') + bias
    A, M    = compression(pooled), max of motion channels, written into
              (R * P, C) zero tables: an (R, P, C) map, i.e. the
              (1, C, R, P) BEV maps in channels_last memory, no transpose
    d       = backbone decoder(A, M)                        (1, K, R, P)
    logits  = (d at the V pillars) @ head (K -> C * Z) + bias    (V, C * Z)
    out     = logits[inverse, i_z * C + c]                         (N, C)

Every pillar holds at least one point, so the ``-inf`` start of the max
never survives (``include_self`` max equals torch's ``amax`` without self).
The graph serves the fast PyTorch backend (fp32, or bf16/fp16 with
channels_last, :mod:`.fusion`) and the ONNX export (:mod:`.onnx_export`).
"""
import copy
from typing import Iterable, Optional, Tuple

import torch
from torch import Tensor, nn

from .fusion import (DEFAULT_FP32_MODULES, fuse_conv_act_, fuse_conv_bn_,
                     fuse_gates_, to_reduced_precision_)

#: Points per pass of the point MLP (:meth:`StudentGraph._pooled_mlp`).
CHUNK_POINTS = 8192
#: Names accepted as ``precision``.
PRECISIONS = {'fp32': torch.float32, 'bf16': torch.bfloat16,
              'fp16': torch.float16}


def student_parts(model: nn.Module):
    """The parts of a student that :class:`StudentGraph` runs.

    Returns:
        tuple: ``(voxel_encoder, decoder, head, grid_size, num_classes)``:
        the point encoder (``mlp``, ``compression``, ``in_channels``,
        ``motion_channels``), the backbone (``backbone(A, M)`` gives the
        (B, K, R, P) decoder features when the student has a
        ``decode_head``, else ``backbone.decode(A, M)``), the 1x1
        ``nn.Conv2d`` K -> C * Z read at the cells (``decode_head.conv_seg``
        or ``backbone.outc``), the (R, P, Z) grid and C.
    """
    for name in ('voxel_encoder', 'backbone', 'grid_size', 'num_classes'):
        if not hasattr(model, name):
            raise TypeError(f'StudentGraph: {type(model).__name__} has no '
                            f'{name!r}; expected a BEV student '
                            f'(KDMOSStudent)')
    head = getattr(model, 'decode_head', None)
    if head is not None:  # backbone(A, M) gives the decoder features
        head = head.conv_seg
    else:  # a backbone that holds the head: backbone.decode(A, M)
        head = model.backbone.outc
    return (model.voxel_encoder, model.backbone, head,
            tuple(int(g) for g in model.grid_size), int(model.num_classes))


def folded_mlp(encoder: nn.Module) -> Tuple[Tuple[Tensor, Tensor], ...]:
    """The point MLP with its BatchNorms folded, in float64 then float32.

    Returns:
        tuple: (weight (out, in), bias (out,)) per Linear; ReLU between.
    """
    from ..models.voxel_encoders.bev_point_encoder import fold_linear_bn
    mlp = copy.deepcopy(encoder.mlp).double().eval()
    with torch.no_grad():
        return tuple((w.float(), b.float()) for w, b in fold_linear_bn(mlp))


class StudentGraph(nn.Module):
    """One scan through the student, with export-friendly operations.

    Built from a trained student (copied; the student is not changed):
    BatchNorms folded (:func:`~.fusion.fuse_conv_bn_`), each circular
    convolution with its LeakyReLU as one oneDNN call
    (:func:`~.fusion.fuse_conv_act_`), the co-attention gates in fewer
    passes (:func:`~.fusion.fuse_gates_`), optionally the
    decoder and the point MLP cast to bf16/fp16 with channels_last
    memory (:func:`~.fusion.to_reduced_precision_`; DySample stays
    float32). Logits are returned in float32.

    Args:
        model (nn.Module): A :class:`KDMOSStudent` (eval mode or not).
        precision (str): ``'fp32'``, ``'bf16'`` or ``'fp16'``.
        channels_last (bool): channels_last weights (the BEV maps are
            made channels_last in any case).
        fp32_modules (Iterable[str]): Type names kept in float32.
        chunk_points (int, optional): Points per pass of the point MLP
            (:meth:`_pooled_mlp`); None: all at once.

    Example:
        >>> graph = StudentGraph(model, precision='bf16').eval()
        >>> logits = graph(point_feats, grid_ind)   # (N, 17), (N, 3) int64
    """

    def __init__(self, model: nn.Module, precision: str = 'fp32',
                 channels_last: bool = True,
                 fp32_modules: Iterable[str] = DEFAULT_FP32_MODULES,
                 chunk_points: Optional[int] = CHUNK_POINTS) -> None:
        super().__init__()
        if chunk_points is not None and chunk_points < 1:
            raise ValueError(f'StudentGraph: chunk_points must be >= 1 or '
                             f'None, got {chunk_points}')
        self.chunk_points = chunk_points
        if precision not in PRECISIONS:
            raise ValueError(f'StudentGraph: precision must be one of '
                             f'{sorted(PRECISIONS)}, got {precision!r}')
        encoder, decoder, head, grid, num_classes = student_parts(model)
        self.precision = precision
        self.dtype = PRECISIONS[precision]
        self.grid_size = grid
        self.num_classes = num_classes
        self.in_channels = int(encoder.in_channels)
        self.motion_channels = int(encoder.motion_channels)
        device = head.weight.device
        layers = folded_mlp(encoder)
        for i, (w, b) in enumerate(layers):
            # the first layer sees raw coordinates (rho, x, y up to 50 m: a
            # bf16 step of 0.25 m there) and stays float32
            dtype = torch.float32 if i == 0 else self.dtype
            self.register_buffer(f'mlp_w{i}', w.to(device, dtype))
            self.register_buffer(f'mlp_b{i}', b.to(device, dtype))
        self.num_layers = len(layers)
        self.compression = copy.deepcopy(encoder.compression).eval().to(
            self.dtype)
        self.decoder = copy.deepcopy(decoder).eval()
        self.decoder_forward = hasattr(model, 'decode_head')
        fuse_conv_bn_(self.decoder)
        fuse_conv_act_(self.decoder)
        fuse_gates_(self.decoder)
        if self.dtype != torch.float32 or channels_last:
            to_reduced_precision_(self.decoder, self.dtype, channels_last,
                                  fp32_modules)
        out_ch, k = head.out_channels, head.in_channels
        if out_ch % num_classes:
            raise ValueError(f'StudentGraph: {out_ch} head channels are not '
                             f'a multiple of num_classes={num_classes}')
        self.register_buffer('head_w', head.weight.detach().reshape(
            out_ch, k).t().contiguous().to(self.dtype))
        bias = head.bias if head.bias is not None else \
            head.weight.new_zeros(out_ch)
        self.register_buffer('head_b', bias.detach().to(self.dtype))
        self.requires_grad_(False)
        self.eval()

    @property
    def feat_channels(self) -> int:
        """Point feature channels F (9 appearance + the motion ones)."""
        return self.in_channels + self.motion_channels

    def pillars(self, grid_ind: Tensor) -> Tuple[Tensor, Tensor]:
        """Occupied BEV cells (V,) int64 ``i_rho * P + i_phi``, sorted, and
        the pillar (N,) int64 of every point (an index into them)."""
        r, p, _ = self.grid_size
        keys = grid_ind[:, 0] * p + grid_ind[:, 1]
        occ = torch.zeros(r * p, dtype=torch.int64, device=keys.device)
        occ = occ.index_put((keys, ), torch.ones_like(keys))
        pillars = torch.nonzero(occ).reshape(-1)
        inverse = (torch.cumsum(occ, 0) - 1).index_select(0, keys)
        return pillars, inverse

    def bev_maps(self, point_feats: Tensor, pillars: Tensor,
                 inverse: Tensor) -> Tuple[Tensor, Tensor]:
        """Appearance (1, A, R, P) and motion (1, M, R, P) maps in the
        graph's dtype, channels_last memory."""
        pooled = self._pooled_mlp(point_feats[:, :self.in_channels], inverse,
                                  pillars.shape[0])
        last = self.num_layers - 1
        app = self.compression(
            pooled + getattr(self, f'mlp_b{last}').to(self.dtype))
        appearance = self._scatter(app, pillars)
        motion = self._scatter(
            self._pillar_max(point_feats[:, self.in_channels:].to(self.dtype),
                             inverse, pillars.shape[0]), pillars)
        return appearance, motion

    def _mlp(self, h: Tensor) -> Tensor:
        """(n, 9) float32 point features -> (n, 256) folded MLP outputs
        without the last bias, in the graph's dtype."""
        for i in range(self.num_layers - 1):
            h = torch.relu_(torch.addmm(getattr(self, f'mlp_b{i}'), h,
                                        getattr(self, f'mlp_w{i}').t()))
            h = h.to(self.dtype)
        w_last = getattr(self, f'mlp_w{self.num_layers - 1}')
        return torch.mm(h.to(w_last.dtype), w_last.t()).to(self.dtype)

    def _pooled_mlp(self, feats: Tensor, inverse: Tensor, num: int) -> Tensor:
        """(V, 256) max per pillar of :meth:`_mlp` of the points' (N, 9)
        features, ``chunk_points`` points at a time.

        In chunks, the (n, 256) activations stay in the cache and are
        max-reduced into the pillars at once, instead of a (N, 256) tensor
        (about 60 MB in bf16 for a 120k-point scan) written, read back and
        freshly paged in on every scan; the max does not depend on the
        order (the matrix products may round differently by chunk). The
        ONNX trace (and ``chunk_points=None``) makes one pass: a traced loop
        would fix the point count.
        """
        n = feats.shape[0]
        step = self.chunk_points
        if step is None or torch.jit.is_tracing() or n <= step:
            return self._pillar_max(self._mlp(feats), inverse, num)
        width = getattr(self, f'mlp_w{self.num_layers - 1}').shape[0]
        out = torch.full((num, width), float('-inf'), dtype=self.dtype,
                         device=feats.device)
        for start in range(0, n, step):
            h = self._mlp(feats[start:start + step])
            index = inverse[start:start + step].unsqueeze(1).expand(
                -1, width)
            out.scatter_reduce_(0, index, h, 'amax')
        return out

    @staticmethod
    def _pillar_max(src: Tensor, inverse: Tensor, num: int) -> Tensor:
        """(V, C) max of the rows of ``src`` (N, C) of every pillar."""
        out = torch.full((num, src.shape[1]), float('-inf'),
                         dtype=src.dtype, device=src.device)
        index = inverse.unsqueeze(1).expand(-1, src.shape[1])
        return out.scatter_reduce(0, index, src, 'amax')

    def _scatter(self, values: Tensor, pillars: Tensor) -> Tensor:
        """(V, C) pillar rows -> (1, C, R, P) map, channels_last memory."""
        r, p, _ = self.grid_size
        table = torch.zeros((r * p, values.shape[1]), dtype=values.dtype,
                            device=values.device)
        table = table.index_put((pillars, ), values)
        return table.reshape(1, r, p, values.shape[1]).permute(0, 3, 1, 2)

    def decode(self, appearance: Tensor, motion: Tensor) -> Tensor:
        """Decoder features (1, K, R, P) of the BEV maps (the part
        ``torch.compile`` compiles: its shapes are fixed by the grid)."""
        if self.decoder_forward:
            return self.decoder(appearance, motion)
        return self.decoder.decode(appearance, motion)

    def forward(self, point_feats: Tensor, grid_ind: Tensor) -> Tensor:
        """Per-point logits of one scan.

        Args:
            point_feats (Tensor): (N, F) float32 point features (9
                appearance + motion channels, ``PolarVoxelize`` order).
            grid_ind (Tensor): (N, 3) int64 (i_rho, i_phi, i_z) cells.

        Returns:
            Tensor: (N, C) float32 logits.
        """
        _, _, z = self.grid_size
        c = self.num_classes
        pillars, inverse = self.pillars(grid_ind)
        appearance, motion = self.bev_maps(point_feats, pillars, inverse)
        d = self.decode(appearance, motion)  # (1, K, R, P)
        k = d.shape[1]
        cells = d.permute(0, 2, 3, 1).reshape(-1, k).index_select(0, pillars)
        logits = torch.addmm(self.head_b, cells, self.head_w)  # (V, C * Z)
        index = (inverse * (c * z) + grid_ind[:, 2] * c).unsqueeze(1) + \
            torch.arange(c, device=grid_ind.device)
        return logits.reshape(-1).index_select(
            0, index.reshape(-1)).reshape(-1, c).float()


def check_inputs(graph: StudentGraph, point_feats: Tensor,
                 grid_ind: Tensor, name: Optional[str] = None) -> None:
    """Raise a ValueError naming ``name`` if the inputs do not fit."""
    what = name or 'scan'
    f = graph.feat_channels
    if point_feats.dim() != 2 or point_feats.shape[1] != f:
        raise ValueError(f'{what}: point_feats must be (N, {f}), got '
                         f'{tuple(point_feats.shape)}')
    if grid_ind.shape != (point_feats.shape[0], 3):
        raise ValueError(f'{what}: grid_ind must be ({point_feats.shape[0]}, '
                         f'3), got {tuple(grid_ind.shape)}')
    if grid_ind.numel():
        lo = grid_ind.min(0).values
        hi = grid_ind.max(0).values
        size = torch.tensor(graph.grid_size, device=grid_ind.device)
        if bool((lo < 0).any()) or bool((hi >= size).any()):
            raise ValueError(f'{what}: grid_ind spans {lo.tolist()}.. '
                             f'{hi.tolist()}, outside the grid '
                             f'{graph.grid_size}')
