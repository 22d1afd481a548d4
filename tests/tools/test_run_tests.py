"""tools/run_tests.sh: one pytest per folder, counts summed, failures kept."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize('extra', [[], ['-q']])
def test_counts_are_summed_over_folders_in_either_summary_form(tmp_path,
                                                                extra):
    """Two folders and a top-level file: 3 passed, 1 failed, exit code 1,
    with pytest's framed summary line and with ``-q``'s bare one."""
    (tmp_path / 'tools').mkdir()
    shutil.copy(REPO / 'tools' / 'run_tests.sh', tmp_path / 'tools')
    for folder, body in (('a', 'def test_a():\n    pass\n\n\n'
                               'def test_b():\n    pass\n'),
                         ('b', 'def test_c():\n    assert 1 == 2\n'),
                         ('data', 'def test_not_collected():\n    pass\n')):
        (tmp_path / 'tests' / folder).mkdir(parents=True)
        (tmp_path / 'tests' / folder / f'test_{folder}.py').write_text(body)
    (tmp_path / 'tests' / 'test_top.py').write_text(
        'def test_d():\n    pass\n')
    res = subprocess.run(['bash', 'tools/run_tests.sh', sys.executable,
                          '-p', 'no:cacheprovider', *extra], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert res.stdout.strip().splitlines()[-1] == '3 passed, 1 failed', \
        res.stdout[-2000:]
    assert res.returncode == 1
