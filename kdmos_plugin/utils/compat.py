"""Fixes for running mmengine 0.10 / mmcv 2.1 / mmdet 3.3 / mmdet3d 1.4 on
torch 2.13 and numpy 2 (filled in by the foundation work)."""
