"""backbones of kdmos_plugin."""
