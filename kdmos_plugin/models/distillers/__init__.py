"""distillers of kdmos_plugin."""
