"""MOS metric and benchmark submission writer."""
