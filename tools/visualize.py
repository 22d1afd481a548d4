"""BEV picture of one frame: ground truth, prediction and moving errors.

Usage:
    python tools/visualize.py SEQ_DIR --frame 0 [--pred PRED.label]
        [--no-labels] [--range 50] [--resolution 0.1] --out picture.png

``SEQ_DIR`` is a sequence folder (``velodyne/``, optionally ``labels/``).
Colours: static grey, movable blue, moving red, unlabeled dim; error panel:
true positive green, false positive orange, false negative magenta. The
picture looks down with +x (forward) up and +y (left) left; see
``kdmos_plugin.visualization.bev`` for the metres-to-pixel mapping.
"""
import argparse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='BEV picture of a frame.')
    parser.add_argument('seq_dir', help='sequence folder (velodyne/, '
                        'labels/)')
    parser.add_argument('--frame', type=int, default=0)
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
    from kdmos_plugin.visualization import BEVGrid, frame_picture, save_png
    grid = BEVGrid((-args.range, args.range), (-args.range, args.range),
                   args.resolution)
    image = frame_picture(args.seq_dir, args.frame, args.pred,
                          not args.no_labels, grid)
    print(save_png(args.out, image))


if __name__ == '__main__':
    main()
