"""Data transforms of the MOS pipeline."""
