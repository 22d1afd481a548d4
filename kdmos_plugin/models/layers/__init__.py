"""layers of kdmos_plugin."""
