"""BEV picture of one frame: ground truth, prediction and moving errors.

Usage:
    python tools/visualize.py SEQ_DIR [SEQ_DIR ...] --frame 0 [0 ...]
        [--pred PRED.label] [--no-labels] [--range 50] [--resolution 0.1]
        --out picture.png

``SEQ_DIR`` is a sequence folder (``velodyne/``, optionally ``labels/``);
several folders (one frame each) are drawn side by side, e.g. a synthetic
and a real scan. ``--pred`` needs a single folder.
Colours: static grey, movable blue, moving red, unlabeled dim; error panel:
true positive green, false positive orange, false negative magenta. The
picture looks down with +x (forward) up and +y (left) left; see
``kdmos_plugin.visualization.bev`` for the metres-to-pixel mapping.
"""
import argparse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='BEV picture of a frame.')
    parser.add_argument('seq_dirs', nargs='+',
                        help='sequence folders (velodyne/, labels/)')
    parser.add_argument('--frame', type=int, nargs='+', default=[0],
                        help='frame of each folder (one value: all)')
    parser.add_argument('--pred', default=None,
                        help='predictions .label file of the frame')
    parser.add_argument('--no-labels', action='store_true',
                        help='do not draw the ground-truth labels')
    parser.add_argument('--range', type=float, default=50.0,
                        help='half width of the square picture [m]')
    parser.add_argument('--resolution', type=float, default=0.1,
                        help='metres a pixel')
    parser.add_argument('--out', required=True, help='output PNG')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from kdmos_plugin.visualization import (BEVGrid, frame_picture,
                                            save_png, side_by_side)
    grid = BEVGrid((-args.range, args.range), (-args.range, args.range),
                   args.resolution)
    frames = args.frame * len(args.seq_dirs) if len(args.frame) == 1 \
        else args.frame
    if len(frames) != len(args.seq_dirs):
        raise SystemExit(f'{len(args.seq_dirs)} folders but {len(frames)} '
                         f'frames')
    if args.pred is not None and len(args.seq_dirs) > 1:
        raise SystemExit('--pred needs a single sequence folder')
    parts = [frame_picture(d, f, args.pred, not args.no_labels, grid)
             for d, f in zip(args.seq_dirs, frames)]
    image = side_by_side(parts) if len(parts) > 1 else parts[0]
    print(save_png(args.out, image))


if __name__ == '__main__':
    main()
