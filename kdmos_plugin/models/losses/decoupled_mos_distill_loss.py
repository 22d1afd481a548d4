"""Decoupled, class-aware logit distillation for moving-object segmentation.

KDMOS (Cao et al., IROS 2025) splits the KL divergence between teacher and
student point logits like decoupled KD (Zhao et al., CVPR 2022) into

* TCKD, the binary "target class vs. the rest" KL, computed on the points
  of the chosen classes only (the moving class in KDMOS), and
* NCKD, the KL between the distributions over the non-target classes,
  computed on all labelled points and weighted per point by the class
  weight of its label.

With ``p(z) = softmax(z / tau)``, ``y`` the label of a point and ``W`` the
class weights (all sums over points ``n``)::

    b(z)[n]  = [p(z)[n, y_n], 1 - p(z)[n, y_n]]
    TCKD     = sum_n m_n KL(b(z_T)[n] || b(z_S)[n]) / max(sum_n m_n, 1)
               with m_n = 1[y_n in tckd_classes]
    q(z)[n]  = softmax over the classes c != y_n of z[n, c] / tau
    NCKD     = sum_n w_n KL(q(z_T)[n] || q(z_S)[n]) / sum_n w_n
               with w_n = W[y_n] (0 for y_n == ignore_index)
    loss_tckd = loss_weight * tckd_weight * TCKD   (* tau^2 if asked)
    loss_nckd = loss_weight * nckd_weight * NCKD   (* tau^2 if asked)

``mode='dkd'`` is the standard decoupled KD instead: TCKD and NCKD as
above but averaged over every labelled point (no class restriction, no
class weights), ``alpha * TCKD + beta * NCKD`` and always times ``tau^2``.

Numerics. The published code masks the target class by subtracting
``1000 * onehot(y)`` from the scaled logits before the softmax and adds
``1e-8`` to the teacher probabilities and to the student log-probabilities
of NCKD and to every class probability before the TCKD sums. The target
entry of NCKD therefore contributes about ``1e-8 * (1000 - 18.4)``, i.e.
~1e-5 per point, and the result depends on the logit scale (the mask is
not exact once logits differ by more than ~1000 * tau). By default this
module computes the same quantities exactly: the target class is removed
from the NCKD softmax, the TCKD probabilities come from log-sum-exp, and
nothing is added; the difference to the published numbers is ~1e-5 of
NCKD. ``reference_numerics=True`` reproduces the published arithmetic
(``-1000`` mask and the ``1e-8`` terms; in ``mode='dkd'`` the original DKD
arithmetic: the ``-1000`` mask without epsilons).
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmdet3d.registry import MODELS

#: Class weights of the published recipe for (unlabeled, static, movable,
#: moving); undocumented origin, probably inverse frequencies.
KDMOS_CLASS_WEIGHT = (0.0, 1.0716, 22.0882, 421.3364)

_MASK_VALUE = 1000.0  # the published target mask
_EPS = 1e-8  # the published epsilon


@MODELS.register_module()
class DecoupledMOSDistillLoss(nn.Module):
    """Decoupled (TCKD + NCKD) point-logit distillation of KDMOS.

    Defaults are the published recipe: ``tau=4``,
    ``0.3 * (1 * TCKD + 3 * NCKD)``, TCKD on moving points (class 3) only,
    NCKD weighted by :data:`KDMOS_CLASS_WEIGHT`, no ``tau^2`` factor.

    Args:
        tau (float): Temperature of the softmax. Defaults to 4.
        loss_weight (float): Common factor of both terms. Defaults to 0.3.
        tckd_weight (float): Factor of TCKD (``mode='kdmos'``).
            Defaults to 1.
        nckd_weight (float): Factor of NCKD (``mode='kdmos'``).
            Defaults to 3.
        class_weight (sequence of float, optional): Per-class weight of NCKD,
            one per logit column; None weights every labelled point by 1.
            Defaults to :data:`KDMOS_CLASS_WEIGHT`.
        tckd_classes (sequence of int): Labels whose points enter TCKD
            (``mode='kdmos'``). Defaults to ``(3,)`` (moving).
        ignore_index (int, optional): Label of unlabeled points; they enter
            neither term. None uses every point. Defaults to 0.
        scale_by_tau_sq (bool): Multiply both terms by ``tau^2`` in
            ``mode='kdmos'`` (the published code does not). Defaults to False.
        mode (str): ``'kdmos'`` (the published loss) or ``'dkd'`` (standard
            decoupled KD). Defaults to ``'kdmos'``.
        alpha (float): Factor of TCKD in ``mode='dkd'``. Defaults to 1.
        beta (float): Factor of NCKD in ``mode='dkd'``. Defaults to 8.
        reference_numerics (bool): Reproduce the published ``-1000`` target
            mask and ``1e-8`` epsilons (see the module docstring).
            Defaults to False.
        teacher_correct_only (bool): Leave out of both terms every point
            whose teacher prediction (argmax) is not its label, as if it
            were unlabelled: the student then learns the teacher's soft
            targets where the teacher is right and not its mistakes. Not in
            the published recipe. Defaults to False.

    Example:
        >>> loss = DecoupledMOSDistillLoss()
        >>> s, t = torch.randn(100, 4), torch.randn(100, 4)
        >>> y = torch.randint(0, 4, (100,))
        >>> sorted(loss(s, t, y))
        ['loss_nckd', 'loss_tckd']
    """

    def __init__(self,
                 tau: float = 4.0,
                 loss_weight: float = 0.3,
                 tckd_weight: float = 1.0,
                 nckd_weight: float = 3.0,
                 class_weight: Optional[Sequence[float]] = KDMOS_CLASS_WEIGHT,
                 tckd_classes: Sequence[int] = (3, ),
                 ignore_index: Optional[int] = 0,
                 scale_by_tau_sq: bool = False,
                 mode: str = 'kdmos',
                 alpha: float = 1.0,
                 beta: float = 8.0,
                 reference_numerics: bool = False,
                 teacher_correct_only: bool = False) -> None:
        super().__init__()
        if mode not in ('kdmos', 'dkd'):
            raise ValueError(f"DecoupledMOSDistillLoss: mode must be 'kdmos' "
                             f"or 'dkd', got {mode!r}")
        if tau <= 0:
            raise ValueError(
                f'DecoupledMOSDistillLoss: tau must be > 0, got {tau}')
        self.tau = float(tau)
        self.loss_weight = float(loss_weight)
        self.tckd_weight = float(tckd_weight)
        self.nckd_weight = float(nckd_weight)
        self.tckd_classes = tuple(int(c) for c in tckd_classes)
        self.ignore_index = ignore_index
        self.scale_by_tau_sq = scale_by_tau_sq
        self.mode = mode
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.reference_numerics = reference_numerics
        self.teacher_correct_only = teacher_correct_only
        # Not persistent: distiller checkpoints must load into the student.
        self.register_buffer(
            'class_weight',
            None if class_weight is None else torch.tensor(
                class_weight, dtype=torch.float32),
            persistent=False)

    def forward(self, student_logits: Tensor, teacher_logits: Tensor,
                labels: Tensor) -> Dict[str, Tensor]:
        """Both weighted loss terms of a batch of points.

        Args:
            student_logits (Tensor): (N, C) student point logits.
            teacher_logits (Tensor): (N, C) teacher point logits (any float
                dtype); no gradient flows into them. Both are computed in
                at least float32.
            labels (Tensor): (N,) int labels in ``0..C-1``.

        Returns:
            dict[str, Tensor]: scalar ``loss_tckd`` and ``loss_nckd``, each
            with its weights applied (float32 or float64).
        """
        self._check(student_logits, teacher_logits, labels)
        # at least float32 (e.g. under autocast): softmax and KL of half
        # precision logits lose the small NCKD terms
        dtype = torch.promote_types(student_logits.dtype, torch.float32)
        student_logits = student_logits.to(dtype)
        teacher_logits = teacher_logits.detach().to(dtype)
        labels = labels.long()
        if self.ignore_index is None:
            valid = torch.ones_like(labels, dtype=torch.bool)
        else:
            valid = labels != self.ignore_index
        if self.teacher_correct_only:
            valid = valid & (teacher_logits.argmax(1) == labels)
        tckd_pt, nckd_pt = self.per_point(student_logits, teacher_logits,
                                          labels)
        valid_f = valid.to(student_logits.dtype)
        if self.mode == 'dkd':
            count = valid_f.sum().clamp(min=1.0)
            scale = self.loss_weight * self.tau**2
            tckd = (tckd_pt * valid_f).sum() / count * (scale * self.alpha)
            nckd = (nckd_pt * valid_f).sum() / count * (scale * self.beta)
            return dict(loss_tckd=tckd, loss_nckd=nckd)

        tckd_mask = torch.zeros_like(valid_f)
        for c in self.tckd_classes:
            tckd_mask = tckd_mask + (labels == c).to(valid_f.dtype)
        tckd_mask = tckd_mask.clamp(max=1.0) * valid_f
        # A batch without TCKD points gives 0 (0 / 1), never 0 / 0 = NaN.
        tckd = (tckd_pt * tckd_mask).sum() / tckd_mask.sum().clamp(min=1.0)
        if self.class_weight is None:
            w = valid_f
        else:
            w = self.class_weight.to(valid_f)[labels] * valid_f
        w_sum = w.sum()
        nckd = (nckd_pt * w).sum() / torch.where(
            w_sum > 0, w_sum, torch.ones_like(w_sum))
        scale = self.loss_weight * (self.tau**2 if self.scale_by_tau_sq else 1)
        return dict(
            loss_tckd=tckd * (scale * self.tckd_weight),
            loss_nckd=nckd * (scale * self.nckd_weight))

    def per_point(self, student_logits: Tensor, teacher_logits: Tensor,
                  labels: Tensor) -> Tuple[Tensor, Tensor]:
        """TCKD and NCKD, KL(teacher || student), of each point.

        Args:
            student_logits (Tensor): (N, C) logits.
            teacher_logits (Tensor): (N, C) logits.
            labels (Tensor): (N,) int64 target class of each point.

        Returns:
            tuple[Tensor, Tensor]: (N,) binary target-vs-rest KL and (N,)
            KL over the non-target classes (nats).
        """
        onehot = F.one_hot(labels, student_logits.shape[1]).bool()
        if self.reference_numerics:
            return (self._reference_tckd(student_logits, teacher_logits,
                                         onehot),
                    self._reference_nckd(student_logits, teacher_logits,
                                         onehot))
        log_b_s, log_q_s = self._decoupled_log_probs(student_logits, onehot)
        log_b_t, log_q_t = self._decoupled_log_probs(teacher_logits, onehot)
        tckd = (log_b_t.exp() * (log_b_t - log_b_s)).sum(1)
        nckd = torch.where(onehot, 0.0,
                           log_q_t.exp() * (log_q_t - log_q_s)).sum(1)
        return tckd, nckd

    def _decoupled_log_probs(self, logits: Tensor,
                             onehot: Tensor) -> Tuple[Tensor, Tensor]:
        """Exact log-probabilities of the two decoupled distributions.

        Returns:
            tuple[Tensor, Tensor]: (N, 2) ``[log p_target, log p_rest]`` and
            (N, C) log-softmax over the non-target classes, 0 in the target
            column (never -inf, so neither values nor gradients see
            inf - inf).
        """
        z = logits / self.tau
        z_target = z.masked_fill(~onehot, 0.0).sum(1)
        lse_rest = z.masked_fill(onehot, float('-inf')).logsumexp(1)
        lse = torch.logaddexp(z_target, lse_rest)
        log_b = torch.stack([z_target - lse, lse_rest - lse], dim=1)
        log_q = torch.where(onehot, 0.0, z - lse_rest[:, None])
        return log_b, log_q

    def _reference_tckd(self, student_logits: Tensor, teacher_logits: Tensor,
                        onehot: Tensor) -> Tensor:
        """(N,) TCKD with the published arithmetic (1e-8 per class)."""
        eps = _EPS if self.mode == 'kdmos' else 0.0
        b_s = self._binary_probs(student_logits, onehot, eps)
        b_t = self._binary_probs(teacher_logits, onehot, eps)
        return (b_t * (torch.log(b_t) - torch.log(b_s))).sum(1)

    def _reference_nckd(self, student_logits: Tensor, teacher_logits: Tensor,
                        onehot: Tensor) -> Tensor:
        """(N,) NCKD with the published -1000 mask and 1e-8 terms."""
        eps = _EPS if self.mode == 'kdmos' else 0.0
        mask = onehot.to(student_logits.dtype) * _MASK_VALUE
        q_t = F.softmax(teacher_logits / self.tau - mask, dim=1) + eps
        log_q_s = F.log_softmax(student_logits / self.tau - mask, dim=1) + eps
        # F.kl_div semantics: q_t * (log q_t - log_q_s), 0 where q_t == 0
        return (torch.xlogy(q_t, q_t) - q_t * log_q_s).sum(1)

    def _binary_probs(self, logits: Tensor, onehot: Tensor,
                      eps: float) -> Tensor:
        """(N, 2) [p_target, p_rest] as in the published code."""
        p = F.softmax(logits / self.tau, dim=1) + eps
        target = (p * onehot).sum(1)
        rest = (p * ~onehot).sum(1)
        return torch.stack([target, rest], dim=1)

    def _check(self, student_logits: Tensor, teacher_logits: Tensor,
               labels: Tensor) -> None:
        """Raise a ValueError on shapes that do not belong together."""
        if student_logits.dim() != 2 or teacher_logits.dim() != 2:
            raise ValueError(
                'DecoupledMOSDistillLoss: logits must be (N, C), got student '
                f'{tuple(student_logits.shape)} and teacher '
                f'{tuple(teacher_logits.shape)}')
        if student_logits.shape != teacher_logits.shape:
            raise ValueError(
                'DecoupledMOSDistillLoss: student logits '
                f'{tuple(student_logits.shape)} and teacher logits '
                f'{tuple(teacher_logits.shape)} differ (rows are points, '
                'columns classes; they must match one to one)')
        if labels.shape != student_logits.shape[:1]:
            raise ValueError(
                f'DecoupledMOSDistillLoss: labels {tuple(labels.shape)} do '
                f'not match {student_logits.shape[0]} logit rows')
        num_classes = student_logits.shape[1]
        if (self.class_weight is not None
                and len(self.class_weight) != num_classes):
            raise ValueError(
                f'DecoupledMOSDistillLoss: {len(self.class_weight)} class '
                f'weights for {num_classes} logit columns')
        if labels.numel() and (labels.min() < 0
                               or labels.max() >= num_classes):
            raise ValueError(
                'DecoupledMOSDistillLoss: labels outside 0..'
                f'{num_classes - 1}: min {int(labels.min())}, max '
                f'{int(labels.max())}')
