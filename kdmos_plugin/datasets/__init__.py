"""Datasets, KITTI I/O and the synthetic sequence generator."""
