"""The export-friendly student graph equals the student's own forward."""
import numpy as np
import pytest
import torch

from kdmos_plugin.deploy import StudentGraph
from kdmos_plugin.deploy.student_graph import check_inputs


def _literal_pillars(grid_ind, p):
    """Sorted unique (i_rho * P + i_phi) keys and each point's index, by a
    Python dict (an independent computation)."""
    keys = (grid_ind[:, 0] * p + grid_ind[:, 1]).tolist()
    uniq = sorted(set(keys))
    pos = {k: i for i, k in enumerate(uniq)}
    return torch.tensor(uniq), torch.tensor([pos[k] for k in keys])


def test_pillars_and_pooled_maps_match_a_literal_computation(deploy_student,
                                                             packed_scans):
    model, _ = deploy_student
    graph = StudentGraph(model)
    inputs = packed_scans[3]['inputs']
    feats, ind = inputs['point_feats'], inputs['grid_ind']
    r, p, _ = graph.grid_size
    pillars, inverse = graph.pillars(ind)
    ref_pillars, ref_inverse = _literal_pillars(ind, p)
    assert torch.equal(pillars, ref_pillars)
    assert torch.equal(inverse, ref_inverse)
    with torch.no_grad():
        _, motion = graph.bev_maps(feats, pillars, inverse)
    # motion map: max of the raw motion channels per pillar, 0 elsewhere
    ref = torch.zeros(graph.motion_channels, r * p)
    seen = set()
    for row, key in zip(feats[:, graph.in_channels:], ind[:, 0] * p + ind[:, 1]):
        k = int(key)
        ref[:, k] = row if k not in seen else torch.maximum(ref[:, k], row)
        seen.add(k)
    torch.testing.assert_close(motion.reshape(graph.motion_channels, -1), ref)


def test_fp32_graph_equals_the_model(deploy_student, packed_scans,
                                     reference_logits, agreement):
    model, _ = deploy_student
    for channels_last in (False, True):
        graph = StudentGraph(model, 'fp32', channels_last=channels_last)
        for packed, ref in zip(packed_scans, reference_logits):
            inputs = packed['inputs']
            with torch.no_grad():
                out = graph(inputs['point_feats'], inputs['grid_ind'])
            torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-4)
            assert agreement(out, ref) == 1.0


def test_point_mlp_in_chunks_equals_one_pass(deploy_student, packed_scans,
                                            reference_logits):
    """The point MLP pooled a few points at a time (several chunks per
    pillar, a last short chunk) gives the one-pass logits."""
    model, _ = deploy_student
    inputs = packed_scans[5]['inputs']
    feats, ind = inputs['point_feats'], inputs['grid_ind']
    one = StudentGraph(model, 'fp32', chunk_points=None)
    chunked = StudentGraph(model, 'fp32', chunk_points=97)
    assert len(feats) > 3 * 97 and len(feats) % 97
    with torch.no_grad():
        pillars, inverse = one.pillars(ind)
        pooled_one = one._pooled_mlp(feats[:, :9], inverse, len(pillars))
        pooled = chunked._pooled_mlp(feats[:, :9], inverse, len(pillars))
        out = chunked(feats, ind)
    torch.testing.assert_close(pooled, pooled_one, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(out, reference_logits[5], rtol=1e-4,
                               atol=1e-4)
    with pytest.raises(ValueError, match='chunk_points'):
        StudentGraph(model, chunk_points=0)


def test_bf16_graph_agrees_with_fp32(deploy_student, packed_scans,
                                     reference_logits, agreement):
    model, _ = deploy_student
    graph = StudentGraph(model, 'bf16')
    assert graph.decoder.inc.conv.conv1.weight.dtype == torch.bfloat16
    same = total = 0
    for packed, ref in zip(packed_scans, reference_logits):
        inputs = packed['inputs']
        with torch.no_grad():
            out = graph(inputs['point_feats'], inputs['grid_ind'])
        assert out.dtype == torch.float32 and out.shape == ref.shape
        same += agreement(out, ref) * len(ref)
        total += len(ref)
    assert same / total >= 0.995


def test_graph_leaves_the_model_unchanged(deploy_student):
    model, _ = deploy_student
    before = {k: v.clone() for k, v in model.state_dict().items()}
    StudentGraph(model, 'bf16')
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(isinstance(m, torch.nn.Identity) for m in model.modules())


def test_graph_checks_its_inputs(deploy_student):
    model, _ = deploy_student
    graph = StudentGraph(model)
    feats = torch.zeros(5, graph.feat_channels)
    ind = torch.zeros(5, 3, dtype=torch.int64)
    check_inputs(graph, feats, ind)
    with pytest.raises(ValueError, match=r'my\.bin.*point_feats'):
        check_inputs(graph, feats[:, :9], ind, 'my.bin')
    bad = ind.clone()
    bad[0, 1] = graph.grid_size[1]
    with pytest.raises(ValueError, match='outside the grid'):
        check_inputs(graph, feats, bad)
    with pytest.raises(ValueError, match='precision'):
        StudentGraph(model, 'int8')
