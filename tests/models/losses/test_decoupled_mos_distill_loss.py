"""DecoupledMOSDistillLoss against a literal per-point loop of docs/METHOD.md §4."""
import math

import pytest
import torch

from kdmos_plugin.models.losses.decoupled_mos_distill_loss import (
    KDMOS_CLASS_WEIGHT, DecoupledMOSDistillLoss)

W = KDMOS_CLASS_WEIGHT


def _softmax(z):
    m = max(z)
    e = [math.exp(v - m) for v in z]
    s = sum(e)
    return [v / s for v in e]


def _log_softmax(z):
    m = max(z)
    lse = m + math.log(sum(math.exp(v - m) for v in z))
    return [v - lse for v in z]


def _kl(p, q):
    """KL(p || q) of two lists of probabilities, 0 log 0 = 0."""
    return sum(a * math.log(a / b) for a, b in zip(p, q) if a > 0)


def point_tckd(s, t, y, tau, reference):
    """Binary target-vs-rest KL of one point, the literal formula."""
    eps = 1e-8 if reference else 0.0
    ps = [v + eps for v in _softmax([v / tau for v in s])]
    pt = [v + eps for v in _softmax([v / tau for v in t])]
    bs = [ps[y], sum(ps[c] for c in range(len(s)) if c != y)]
    bt = [pt[y], sum(pt[c] for c in range(len(t)) if c != y)]
    return _kl(bt, bs)


def point_nckd(s, t, y, tau, reference, eps=1e-8):
    """KL over the non-target classes of one point, the literal formula."""
    if reference:  # the published arithmetic: -1000 mask and 1e-8 terms
        zs = [v / tau - (1000.0 if c == y else 0.0) for c, v in enumerate(s)]
        zt = [v / tau - (1000.0 if c == y else 0.0) for c, v in enumerate(t)]
        qt = [v + eps for v in _softmax(zt)]
        log_qs = [v + eps for v in _log_softmax(zs)]
        return sum(a * (math.log(a) - b) for a, b in zip(qt, log_qs) if a > 0)
    keep = [c for c in range(len(s)) if c != y]
    qs = _softmax([s[c] / tau for c in keep])
    qt = _softmax([t[c] / tau for c in keep])
    return _kl(qt, qs)


def reference_kdmos(s, t, y, tau=4.0, weights=W, tckd_classes=(3, ),
                    loss_weight=0.3, tckd_weight=1.0, nckd_weight=3.0,
                    tau_sq=False, reference=False):
    """docs/METHOD.md §4 as a plain loop over points."""
    tckd_sum, tckd_n, nckd_sum, w_sum = 0.0, 0, 0.0, 0.0
    for n in range(len(y)):
        sn, tn, yn = s[n].tolist(), t[n].tolist(), int(y[n])
        if yn == 0:  # unlabeled: in neither term
            continue
        if yn in tckd_classes:
            tckd_sum += point_tckd(sn, tn, yn, tau, reference)
            tckd_n += 1
        w = 1.0 if weights is None else weights[yn]
        nckd_sum += w * point_nckd(sn, tn, yn, tau, reference)
        w_sum += w
    tckd = tckd_sum / tckd_n if tckd_n else 0.0
    nckd = nckd_sum / w_sum if w_sum else 0.0
    scale = loss_weight * (tau**2 if tau_sq else 1.0)
    return scale * tckd_weight * tckd, scale * nckd_weight * nckd


def reference_dkd(s, t, y, tau, alpha, beta, loss_weight, reference):
    """Decoupled KD (Zhao et al. 2022) over the labelled points, a loop."""
    tckd, nckd, count = 0.0, 0.0, 0
    for n in range(len(y)):
        sn, tn, yn = s[n].tolist(), t[n].tolist(), int(y[n])
        if yn == 0:
            continue
        count += 1
        ps = _softmax([v / tau for v in sn])
        pt = _softmax([v / tau for v in tn])
        bs = [ps[yn], 1.0 - ps[yn]]
        bt = [pt[yn], 1.0 - pt[yn]]
        tckd += _kl(bt, bs)
        nckd += point_nckd(sn, tn, yn, tau, reference, eps=0.0)
    return (loss_weight * alpha * tau**2 * tckd / count,
            loss_weight * beta * tau**2 * nckd / count)


def _random_batch(n=64, c=4, seed=0, scale=3.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(n, c, generator=g, dtype=dtype) * scale
    t = torch.randn(n, c, generator=g, dtype=dtype) * scale
    y = torch.randint(0, c, (n, ), generator=g)
    y[:4] = torch.tensor([0, 1, 2, 3])  # every class present
    return s, t, y


@pytest.mark.parametrize('reference', [False, True])
def test_defaults_equal_literal_loop(reference):
    s, t, y = _random_batch()
    out = DecoupledMOSDistillLoss(reference_numerics=reference)(s, t, y)
    tckd, nckd = reference_kdmos(s, t, y, reference=reference)
    assert out['loss_tckd'].item() == pytest.approx(tckd, rel=1e-9)
    assert out['loss_nckd'].item() == pytest.approx(nckd, rel=1e-9)
    assert tckd > 0 and nckd > 0


def test_options_equal_literal_loop():
    s, t, y = _random_batch(seed=1)
    weights = (0.5, 2.0, 1.0, 7.0)
    loss = DecoupledMOSDistillLoss(
        tau=2.0, loss_weight=0.7, tckd_weight=2.0, nckd_weight=0.5,
        class_weight=weights, tckd_classes=(2, 3), scale_by_tau_sq=True)
    out = loss(s, t, y)
    tckd, nckd = reference_kdmos(
        s, t, y, tau=2.0, weights=weights, tckd_classes=(2, 3),
        loss_weight=0.7, tckd_weight=2.0, nckd_weight=0.5, tau_sq=True)
    assert out['loss_tckd'].item() == pytest.approx(tckd, rel=1e-9)
    assert out['loss_nckd'].item() == pytest.approx(nckd, rel=1e-9)
    # no class weights: every labelled point counts once
    out = DecoupledMOSDistillLoss(class_weight=None)(s, t, y)
    _, nckd = reference_kdmos(s, t, y, weights=None)
    assert out['loss_nckd'].item() == pytest.approx(nckd, rel=1e-9)


def test_moving_only_mask_and_unlabeled_points():
    s, t, y = _random_batch(seed=2)
    loss = DecoupledMOSDistillLoss()
    base = loss(s, t, y)
    # changing logits of non-moving points leaves TCKD unchanged
    s2 = s.clone()
    s2[y != 3] += torch.randn_like(s2[y != 3])
    assert loss(s2, t, y)['loss_tckd'].item() == pytest.approx(
        base['loss_tckd'].item(), rel=1e-12)
    # unlabeled points enter neither term
    s3 = s.clone()
    s3[y == 0] *= 5
    out = loss(s3, t, y)
    assert out['loss_tckd'].item() == pytest.approx(
        base['loss_tckd'].item(), rel=1e-12)
    assert out['loss_nckd'].item() == pytest.approx(
        base['loss_nckd'].item(), rel=1e-12)


@pytest.mark.parametrize('mode', ['kdmos', 'dkd'])
def test_teacher_correct_only_equals_the_loop_over_those_points(mode):
    """The literal loops run on the points where the teacher's argmax is
    the label; the others count as unlabelled."""
    s, t, y = _random_batch(n=200, seed=4)
    right = t.argmax(1) == y
    assert 20 < int(right.sum()) < 180  # both kinds are there
    y_right = torch.where(right, y, torch.zeros_like(y))
    loss = DecoupledMOSDistillLoss(mode=mode, teacher_correct_only=True)
    out = loss(s, t, y)
    if mode == 'kdmos':
        tckd, nckd = reference_kdmos(s, t, y_right)
    else:
        tckd, nckd = reference_dkd(s, t, y_right, 4.0, 1.0, 8.0, 0.3, False)
    assert out['loss_tckd'].item() == pytest.approx(tckd, rel=1e-9)
    assert out['loss_nckd'].item() == pytest.approx(nckd, rel=1e-9)
    # the student logits of the points the teacher gets wrong do not matter
    s2 = s.clone()
    s2[~right] = torch.randn_like(s2[~right]) * 5
    out2 = loss(s2, t, y)
    for key in out:
        assert out2[key].item() == pytest.approx(out[key].item(), rel=1e-12)
    assert DecoupledMOSDistillLoss(mode=mode)(s2, t, y)['loss_nckd'] != \
        DecoupledMOSDistillLoss(mode=mode)(s, t, y)['loss_nckd']


@pytest.mark.parametrize('reference', [False, True])
def test_dkd_mode_equals_dkd_formula(reference):
    s, t, y = _random_batch(seed=3)
    loss = DecoupledMOSDistillLoss(
        mode='dkd', tau=4.0, alpha=1.0, beta=8.0, loss_weight=1.0,
        reference_numerics=reference)
    out = loss(s, t, y)
    tckd, nckd = reference_dkd(s, t, y, 4.0, 1.0, 8.0, 1.0, reference)
    assert out['loss_tckd'].item() == pytest.approx(tckd, rel=1e-9)
    assert out['loss_nckd'].item() == pytest.approx(nckd, rel=1e-9)


def test_reference_numerics_differ_by_the_epsilon_bias_only():
    s, t, y = _random_batch(n=256, seed=4, dtype=torch.float32)
    exact = DecoupledMOSDistillLoss()(s, t, y)
    ref = DecoupledMOSDistillLoss(reference_numerics=True)(s, t, y)
    # the target entry adds ~1e-8 * 980 per point to NCKD (x 0.9)
    diff = (ref['loss_nckd'] - exact['loss_nckd']).item()
    assert 0.5e-5 < diff < 2e-5
    assert ref['loss_tckd'].item() == pytest.approx(
        exact['loss_tckd'].item(), abs=1e-6)


def test_float32_matches_float64_loop():
    s, t, y = _random_batch(seed=5, dtype=torch.float32)
    out = DecoupledMOSDistillLoss()(s, t, y)
    tckd, nckd = reference_kdmos(s.double(), t.double(), y)
    assert out['loss_tckd'].item() == pytest.approx(tckd, rel=1e-4)
    assert out['loss_nckd'].item() == pytest.approx(nckd, rel=1e-4)


@pytest.mark.parametrize('reference', [False, True])
def test_no_moving_points_gives_zero_not_nan(reference):
    s, t, y = _random_batch(seed=6, dtype=torch.float32)
    y[y == 3] = 1
    s.requires_grad_(True)
    out = DecoupledMOSDistillLoss(reference_numerics=reference)(s, t, y)
    assert out['loss_tckd'].item() == 0.0
    assert torch.isfinite(out['loss_nckd'])
    (out['loss_tckd'] + out['loss_nckd']).backward()
    assert torch.isfinite(s.grad).all()
    # nothing labelled at all: both terms are 0
    out = DecoupledMOSDistillLoss()(s, t, torch.zeros_like(y))
    assert out['loss_tckd'].item() == 0.0 and out['loss_nckd'].item() == 0.0


def test_gradients_flow_to_student_only_and_stay_finite():
    s, t, y = _random_batch(seed=7, dtype=torch.float32, scale=500.0)
    s.requires_grad_(True)
    t.requires_grad_(True)
    out = DecoupledMOSDistillLoss()(s, t, y)
    (out['loss_tckd'] + out['loss_nckd']).backward()
    assert t.grad is None
    assert torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0


def test_teacher_half_precision_is_accepted():
    s, t, y = _random_batch(seed=8, dtype=torch.float32)
    out16 = DecoupledMOSDistillLoss()(s, t.half(), y)
    out32 = DecoupledMOSDistillLoss()(s, t.half().float(), y)
    assert out16['loss_nckd'].item() == pytest.approx(
        out32['loss_nckd'].item(), rel=1e-6)


def test_half_precision_student_is_computed_in_float32():
    s, t, y = _random_batch(seed=10, dtype=torch.float32)
    s16 = s.half().requires_grad_(True)
    out = DecoupledMOSDistillLoss()(s16, t, y)
    ref = DecoupledMOSDistillLoss()(s.half().float(), t, y)
    assert out['loss_nckd'].dtype == torch.float32
    assert out['loss_nckd'].item() == pytest.approx(ref['loss_nckd'].item(),
                                                   rel=1e-6)
    out['loss_nckd'].backward()
    assert s16.grad.dtype == torch.float16


def test_bad_shapes_raise():
    loss = DecoupledMOSDistillLoss()
    s, t, y = _random_batch(seed=9)
    with pytest.raises(ValueError, match='differ'):
        loss(s, t[:-1], y)
    with pytest.raises(ValueError, match='labels'):
        loss(s, t, y[:-1])
    with pytest.raises(ValueError, match='class weights'):
        loss(s[:, :3], t[:, :3], y.clamp(max=2))
    with pytest.raises(ValueError, match='labels outside'):
        loss(s, t, y + 1)
    with pytest.raises(ValueError, match='mode'):
        DecoupledMOSDistillLoss(mode='kd')
