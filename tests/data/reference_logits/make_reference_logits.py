"""Write the saved logits of converted published-format student weights.

Run once, before a refactor of the student, from the repository root::

    PYTHONPATH=$PWD python tests/data/reference_logits/make_reference_logits.py

It writes ``student_logits.npz`` beside this file: for the KDMOS student
(``configs/kdmos/student_bev.py``, DySample) and the MotionBEV one
(``configs/kdmos/motionbev.py``, deconvolutions), a published-format
checkpoint with seeded random weights is written, converted with
``tools/convert_reference_ckpt.py``, loaded, and the per-point logits of a
fixed two-sample batch on a small polar grid are saved, together with that
batch. ``tests/tools/test_convert_reference_ckpt.py`` repeats the same steps
with today's code and requires the very same bits.

Everything here depends only on the published key names, their shapes and
fixed seeds, never on the order of our modules, so the same published file
results whatever our modules are called.
"""
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent / 'student_logits.npz'
#: (R, P, Z) of the fixed input; Z = 32 as published (the head's width).
GRID = (32, 24, 32)
MOTION = 8
POINTS = (300, 220)
CONFIGS = {'dysample': 'student_bev.py', 'deconv': 'motionbev.py'}


def build_student(upsample: str):
    """The model of the student config on the small grid, eval mode."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import kdmos_plugin  # noqa: F401
    from mmdet3d.registry import MODELS
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(str(REPO / 'configs' / 'kdmos' /
                              CONFIGS[upsample]))
    cfg.model.grid_size = GRID
    return MODELS.build(cfg.model).eval()


def published_state_dict(model, table) -> dict:
    """Seeded published-format weights for ``model``.

    ``table`` is the converter's (published prefix, our prefix) list; our
    keys are renamed to published ones with it, then every published key,
    in sorted order, gets values from one seeded generator: weights scaled
    by 1/sqrt(fan-in) so that the eval-mode network stays finite, running
    variances positive, counters as given.
    """
    inverse = sorted(((ours, pub) for pub, ours in table),
                     key=lambda pair: -len(pair[0]))
    shapes = {}
    for key, value in model.state_dict().items():
        ours, pub = next(p for p in inverse if key.startswith(p[0]))
        shapes[pub + key[len(ours):]] = value
    g = torch.Generator().manual_seed(20261201)
    out = {}
    for key in sorted(shapes):
        ref = shapes[key]
        if not ref.is_floating_point():
            out[key] = torch.full_like(ref, 7)
            continue
        value = torch.randn(ref.shape, generator=g, dtype=torch.float64)
        if key.endswith('running_var'):
            value = value.abs() + 0.5
        elif ref.dim() > 1:
            value = value / float(np.sqrt(ref[0].numel()))
        out[key] = value.to(ref.dtype)
    return out


def fixed_inputs() -> dict:
    """Two samples of random point features and polar cells on GRID."""
    rng = np.random.default_rng(7)
    inputs = dict(points=[], point_feats=[], grid_ind=[])
    for n in POINTS:
        inputs['points'].append(
            torch.from_numpy(rng.normal(0, 10, (n, 4)).astype(np.float32)))
        inputs['point_feats'].append(torch.from_numpy(
            rng.normal(0, 1, (n, 9 + MOTION)).astype(np.float32)))
        inputs['grid_ind'].append(torch.from_numpy(np.stack(
            [rng.integers(0, s, n) for s in GRID], 1).astype(np.int64)))
    return inputs


def _converter():
    path = REPO / 'tools' / 'convert_reference_ckpt.py'
    spec = importlib.util.spec_from_file_location('convert_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def converted_logits(upsample: str, workdir: Path) -> np.ndarray:
    """Logits (sum N, 4) float32 of the converted seeded checkpoint."""
    from kdmos_plugin.models.segmentors.reference_ckpt import \
        reference_prefix_table
    torch.set_num_threads(1)
    model = build_student(upsample)
    src = workdir / f'published_{upsample}.pt'
    dst = workdir / f'converted_{upsample}.pth'
    torch.save({'model_state_dict': published_state_dict(
        model, reference_prefix_table())}, src)
    if _converter().main([str(src), str(dst)]) != 0:
        raise RuntimeError(f'conversion of {src} failed')
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    model.load_state_dict(ckpt['state_dict'], strict=True)
    with torch.no_grad():
        logits = model._forward(fixed_inputs())
    return logits.numpy()


def main() -> int:
    arrays = {}
    with tempfile.TemporaryDirectory() as tmp:
        for upsample in CONFIGS:
            arrays[f'logits_{upsample}'] = converted_logits(upsample,
                                                            Path(tmp))
    inputs = fixed_inputs()
    for key, values in inputs.items():
        for i, v in enumerate(values):
            arrays[f'{key}_{i}'] = v.numpy()
    for name, a in arrays.items():
        if not np.isfinite(a).all():
            raise RuntimeError(f'{name}: non-finite values')
    tmp_out = OUT.with_suffix('.tmp.npz')
    np.savez_compressed(tmp_out, **arrays)
    os.replace(tmp_out, OUT)
    print(f'wrote {OUT} ({OUT.stat().st_size} bytes)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
