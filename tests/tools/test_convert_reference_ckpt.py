"""Published KDMOS/MotionBEV checkpoints -> KDMOSStudent checkpoints."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from kdmos_plugin.models.segmentors.reference_ckpt import (
    convert_reference_state_dict, reference_prefix_table)
from mmdet3d.registry import MODELS

REPO = Path(__file__).resolve().parents[2]

#: Keys written by the published code (network/ptBEVnet.py, CA_BEV_Unet.py,
#: basic_blocks.py, utils/dysample.py), spelled out by hand.
PUBLISHED_KEYS = [
    'pt_model_in.bn1.num_batches_tracked', 'pt_model_in.layer1.0.weight',
    'pt_model_in.layer2.1.running_var', 'pt_model_in.layer3.0.bias',
    'pt_model_in.out.weight', 'fea_compression.0.bias',
    'BEV_model.network.inc.conv.0.running_mean',
    'BEV_model.network.inc.conv.1.conv1.0.weight',
    'BEV_model.network.res_inc.conv.1.conv2.1.bias',
    'BEV_model.network.down4.mpconv.1.conv2.0.weight',
    'BEV_model.network.res_down3.mpconv.1.conv1.1.weight',
    'BEV_model.network.CGM0.fuse_feature1.conv1.0.weight',
    'BEV_model.network.CGM1.fuse_feature1.conv1.1.running_var',
    'BEV_model.network.CGM2.fuse_feature2.bias',
    'BEV_model.network.CGM3.motion_channel_attention.fc1.weight',
    'BEV_model.network.CGM3.motion_channel_attention.fc2.weight',
    'BEV_model.network.CGM0.motion_spatial_attention.conv1.weight',
    'BEV_model.network.CGM1.attention_module.conv1x1_channel_wise.bias',
    'BEV_model.network.CGM2.attention_module.conv1x1_spatial.weight',
    'BEV_model.network.up3.conv.conv1.0.weight',
    'BEV_model.network.up0.conv.conv2.1.num_batches_tracked',
    'BEV_model.network.outc.conv.weight',
]
DYSAMPLE_KEYS = ['BEV_model.network.up3.up.offset.weight',
                 'BEV_model.network.up0.up.init_pos']
DECONV_KEYS = ['BEV_model.network.up3.up.weight',
               'BEV_model.network.up1.up.bias']


def _tool():
    path = REPO / 'tools' / 'convert_reference_ckpt.py'
    spec = importlib.util.spec_from_file_location('convert_tool', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model(upsample):
    """The model of configs/kdmos/student_bev.py (KDMOS) or motionbev.py."""
    init_default_scope('mmdet3d')
    name = 'student_bev.py' if upsample == 'dysample' else 'motionbev.py'
    cfg = Config.fromfile(str(REPO / 'configs' / 'kdmos' / name))
    assert cfg.model.backbone.upsample == upsample
    return MODELS.build(cfg.model)


def _published_state_dict(model):
    """Our state dict renamed to the published names with the table,
    filled with distinct random values."""
    inverse = sorted(((ours, pub) for pub, ours in reference_prefix_table()),
                     key=lambda pair: -len(pair[0]))
    out = {}
    g = torch.Generator().manual_seed(0)
    for key, value in model.state_dict().items():
        prefix = next(o for o in inverse if key.startswith(o[0]))
        pub = prefix[1] + key[len(prefix[0]):]
        out[pub] = (torch.randn(value.shape, generator=g).to(value.dtype)
                    if value.is_floating_point() else value + 3)
    return out


@pytest.mark.parametrize('upsample,extra', [('dysample', DYSAMPLE_KEYS),
                                            ('deconv', DECONV_KEYS)])
def test_tool_converts_published_checkpoint(tmp_path, upsample, extra):
    model = _model(upsample)
    published = _published_state_dict(model)
    assert set(PUBLISHED_KEYS + extra) <= set(published)
    assert len(published) == len(model.state_dict())
    src, dst = tmp_path / 'published.pt', tmp_path / 'converted.pth'
    # DataParallel prefix and the 'model_state_dict' wrapper of the
    # published training script
    torch.save({'epoch': 3, 'model_state_dict':
                {'module.' + k: v for k, v in published.items()}}, src)
    assert _tool().main([str(src), str(dst)]) == 0
    ckpt = torch.load(dst, map_location='cpu', weights_only=True)
    assert ckpt['meta']['upsample'] == upsample
    result = model.load_state_dict(ckpt['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    converted = convert_reference_state_dict(published)
    ours = model.state_dict()
    for key, value in converted.items():
        assert torch.equal(ours[key], value), key
    assert torch.equal(ours['backbone.cag0.fuse_conv.0.weight'],
                       published['BEV_model.network.CGM0.fuse_feature1.'
                                 'conv1.0.weight'])
    assert torch.equal(ours['voxel_encoder.mlp.10.weight'],
                       published['pt_model_in.out.weight'])


def test_bare_state_dict_and_errors(tmp_path):
    w = torch.randn(32, 256)
    out = convert_reference_state_dict({'fea_compression.0.weight': w})
    assert list(out) == ['voxel_encoder.compression.0.weight']
    assert out['voxel_encoder.compression.0.weight'] is w
    with pytest.raises(KeyError, match='pt_model_out.input.weight'):
        convert_reference_state_dict({'pt_model_out.input.weight': w})
    bad = tmp_path / 'bad.pt'
    torch.save({'epoch': 1}, bad)
    with pytest.raises(ValueError, match='bad.pt'):
        _tool().main([str(bad), str(tmp_path / 'x.pth')])
    with pytest.raises(FileNotFoundError, match='missing.pt'):
        _tool().main([str(tmp_path / 'missing.pt'), str(tmp_path / 'x.pth')])


def _reference_script():
    path = REPO / 'tests' / 'data' / 'reference_logits' / \
        'make_reference_logits.py'
    spec = importlib.util.spec_from_file_location('make_reference', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('upsample', ['dysample', 'deconv'])
def test_converted_weights_give_the_saved_logits(tmp_path, upsample):
    """Seeded published-format weights, converted by the tool, give the
    logits saved before the voxel encoder / backbone / decode head
    refactor (tests/data/reference_logits, made with the older code).

    Bit for bit on the CPU that saved them (AVX-512); another CPU's
    convolution kernels round differently (seen on an AVX2-only AMD EPYC:
    up to 3e-6 on logits of about 1), so the check allows 2e-5; a wrong
    weight mapping changes the logits by about 1."""
    ref = _reference_script()
    saved = np.load(ref.OUT)
    inputs = ref.fixed_inputs()
    for key, values in inputs.items():  # the batch itself is unchanged
        for i, v in enumerate(values):
            assert np.array_equal(v.numpy(), saved[f'{key}_{i}']), key
    threads = torch.get_num_threads()
    try:
        logits = ref.converted_logits(upsample, tmp_path)
    finally:
        torch.set_num_threads(threads)
    expected = saved[f'logits_{upsample}']
    assert logits.shape == expected.shape == (sum(ref.POINTS), 4)
    assert logits.dtype == expected.dtype
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=2e-5)
