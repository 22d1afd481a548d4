"""losses of kdmos_plugin."""
