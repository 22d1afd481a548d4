"""BEV pictures of scans, labels and predictions."""
