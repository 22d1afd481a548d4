"""Write SemanticKITTI-MOS info files (one a split) for the dataset.

Usage:
    python tools/create_data.py DATA_ROOT [--out-dir DIR] [--format json|pkl]
        [--split NAME SEQ [SEQ ...]]... [--poses-root DIR] [--no-num-points]
        [--residual-root DIR]

Without ``--split`` the default train (00-07, 09, 10), val (08) and test
(11-21) splits are written, each with the sequences present under
``DATA_ROOT/sequences``. Output:
``<out-dir>/semantickitti_mos_infos_<split>.<fmt>``
(see ``kdmos_plugin.datasets.mos_infos`` for the format). Use it in a config
with ``dataset=dict(ann_file='semantickitti_mos_infos_train.json', ...)``.
Files of those names that this tool did not write are never replaced (the
run stops first); info files are data (JSON), never code.
``--residual-root DIR`` also writes the published motion features of every
sequence of the splits as ``DIR/<seq>/residual_images/<frame>.npy`` (for
``MOSMotionFeatures(mode='file', residual_root=DIR)``).
"""
import argparse


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Write SemanticKITTI-MOS info files.')
    parser.add_argument('data_root', help='folder holding sequences/XX')
    parser.add_argument('--out-dir', default=None,
                        help='output folder (default: data_root)')
    parser.add_argument('--format', choices=('json', 'pkl'), default='json',
                        help='json (default); pkl holds the same plain data')
    parser.add_argument('--prefix', default='semantickitti_mos')
    parser.add_argument('--split', nargs='+', action='append',
                        metavar=('NAME', 'SEQ'),
                        help='a split and its sequences, e.g. --split val 08')
    parser.add_argument('--poses-root', default=None,
                        help='folder with XX/poses.txt (default: '
                        'sequences/XX/poses.txt)')
    parser.add_argument('--no-num-points', action='store_true',
                        help='do not record point counts')
    parser.add_argument('--residual-root', default=None,
                        help='also write the reference motion features here')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from kdmos_plugin.datasets.mos_infos import create_info_files
    splits = None
    if args.split:
        splits = {}
        for item in args.split:
            if len(item) < 2:
                raise SystemExit(f'--split needs a name and sequences: {item}')
            splits[item[0]] = item[1:]
    written = create_info_files(
        args.data_root, args.out_dir, splits, prefix=args.prefix,
        file_format=args.format, poses_root=args.poses_root,
        with_num_points=not args.no_num_points)
    for name, path in written.items():
        print(f'{name}: {path}')
    if args.residual_root:
        from kdmos_plugin.datasets.mos_infos import load_info_file
        from kdmos_plugin.datasets.residual_files import \
            write_reference_residuals
        seqs = []
        for path in written.values():
            for seq in load_info_file(path)['metainfo']['sequences']:
                if seq not in seqs:
                    seqs.append(seq)
        counts = write_reference_residuals(args.data_root, seqs,
                                           args.residual_root,
                                           args.poses_root)
        for seq, num in counts.items():
            print(f'residuals {seq}: {num} files')
    return written


if __name__ == '__main__':
    main()
