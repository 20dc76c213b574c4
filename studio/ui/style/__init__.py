"""Widgets of the Style Transfer panel: image slots, presets and settings, the before/after view."""
