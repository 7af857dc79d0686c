"""Rendering: arrays and labels in, rich renderables out. Nothing here reads files or computes."""
