"""Point encoder: MLP shapes, pooling into BEV maps vs a literal loop."""
import pytest
import torch

from kdmos_plugin.models.voxel_encoders import BEVPointEncoder


def test_parameter_count():
    enc = BEVPointEncoder()
    assert sum(p.numel() for p in enc.mlp.parameters()) == 44242
    assert sum(p.numel() for p in enc.compression.parameters()) == 8224


def test_bev_maps_match_literal_pooling():
    torch.manual_seed(0)
    shape = (5, 6)
    # chunks of 16 points: running maxima over several chunks
    enc = BEVPointEncoder(motion_channels=2, bev_shape=shape,
                          eval_chunk_size=16).eval()
    n = 80
    feats = torch.randn(n, 11)
    grid = torch.stack([torch.randint(0, 5, (n, )),
                        torch.randint(0, 6, (n, )),
                        torch.randint(0, 3, (n, ))], 1)
    batch_idx = torch.randint(0, 2, (n, ))
    with torch.no_grad():
        app, mot = enc(feats, grid, batch_idx, 2)
        point_out = enc.mlp(feats[:, :9])
        torch.testing.assert_close(enc.point_mlp(feats[:, :9]), point_out,
                                   atol=1e-5, rtol=1e-5)
        ref_app = torch.zeros(2, 32, *shape)
        ref_mot = torch.zeros(2, 2, *shape)
        for b in range(2):
            for r in range(shape[0]):
                for p in range(shape[1]):
                    sel = (batch_idx == b) & (grid[:, 0] == r) & \
                        (grid[:, 1] == p)
                    if sel.any():
                        ref_app[b, :, r, p] = enc.compression(
                            point_out[sel].max(0).values)
                        ref_mot[b, :, r, p] = feats[sel, 9:].max(0).values
    assert app.shape == (2, 32, 5, 6) and mot.shape == (2, 2, 5, 6)
    torch.testing.assert_close(app, ref_app, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mot, ref_mot)


def test_rejects_wrong_feature_width():
    enc = BEVPointEncoder(bev_shape=(4, 4))
    with pytest.raises(ValueError, match='9 appearance'):
        enc(torch.zeros(3, 9), torch.zeros(3, 3, dtype=torch.long),
            torch.zeros(3, dtype=torch.long), 1)


def test_eval_mlp_folds_batchnorm_exactly():
    torch.manual_seed(0)
    enc = BEVPointEncoder(bev_shape=(4, 4))
    for m in enc.mlp:
        if isinstance(m, torch.nn.BatchNorm1d):
            m.running_mean.normal_()
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.normal_()
            m.bias.data.normal_()
    enc.eval()
    x = torch.randn(50, 9)
    with torch.no_grad():
        torch.testing.assert_close(enc.point_mlp(x), enc.mlp(x),
                                   atol=1e-4, rtol=1e-4)
    enc.train()
    torch.testing.assert_close(enc.point_mlp(x), enc.mlp(x))
