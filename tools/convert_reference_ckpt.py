"""Convert a published KDMOS / MotionBEV checkpoint for this plugin.

Usage::

    python tools/convert_reference_ckpt.py SRC DST

SRC is a ``torch.save`` of the published ``ptBEVnet`` state dict (bare or
under ``model_state_dict``/``state_dict``/``model``; loaded with
``weights_only=True``); DST an mmengine checkpoint (``state_dict`` + ``meta``)
for ``configs/kdmos/student_bev.py`` (KDMOS, DySample) or
``configs/kdmos/motionbev.py`` (MotionBEV, deconvolutions).

Key mapping (``N = BEV_model.network.``, ``B = backbone``,
``H = decode_head``; the rest of each key is kept)::

    published prefix -> our prefix
    pt_model_in.bn1.                 -> voxel_encoder.mlp.0.
    pt_model_in.layer1.0. / .1.      -> voxel_encoder.mlp.1. / .2.
    pt_model_in.layer2.0. / .1.      -> voxel_encoder.mlp.4. / .5.
    pt_model_in.layer3.0. / .1.      -> voxel_encoder.mlp.7. / .8.
    pt_model_in.out.                 -> voxel_encoder.mlp.10.
    fea_compression.0.               -> voxel_encoder.compression.0.
    N.inc.conv.0.                    -> B.inc.norm.
    N.inc.conv.1.                    -> B.inc.conv.
    N.res_inc.conv.0.                -> B.res_inc.norm.
    N.res_inc.conv.1.                -> B.res_inc.conv.
    N.down{1-4}.mpconv.1.            -> B.down{k}.conv.
    N.res_down{1-3}.mpconv.1.        -> B.res_down{k}.conv.
    N.CGM{0-3}.fuse_feature1.conv1.  -> B.cag{k}.fuse_conv.
    N.CGM{0-3}.fuse_feature2.        -> B.cag{k}.gate_conv.
    N.CGM{0-3}.attention_module.conv1x1_spatial.
                                     -> B.cag{k}.mga.spatial_conv.
    N.CGM{0-3}.attention_module.conv1x1_channel_wise.
                                     -> B.cag{k}.mga.channel_conv.
    N.CGM{0-3}.motion_channel_attention.
                                     -> B.cag{k}.unused_channel_attention.
    N.CGM{0-3}.motion_spatial_attention.conv1.
                                     -> B.cag{k}.unused_spatial_attention.conv.
    N.up{0-3}.up.                    -> B.up{k}.upsample.
    N.up{0-3}.conv.                  -> B.up{k}.conv.
    N.outc.conv.                     -> H.conv_seg.

The logic lives in :mod:`kdmos_plugin.models.segmentors.reference_ckpt`.
"""
import argparse
import sys

from kdmos_plugin.models.segmentors.reference_ckpt import \
    convert_reference_checkpoint


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert a published KDMOS/MotionBEV checkpoint into an '
        'mmengine checkpoint of KDMOSStudent')
    parser.add_argument('src', help='published checkpoint (.pt/.pth)')
    parser.add_argument('dst', help='output mmengine checkpoint (.pth)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    ckpt = convert_reference_checkpoint(args.src, args.dst)
    print(f'wrote {args.dst}: {len(ckpt["state_dict"])} tensors, '
          f'upsample={ckpt["meta"]["upsample"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
