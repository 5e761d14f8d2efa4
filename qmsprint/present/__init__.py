"""Presentation: every sentence, label, number format and figure qmsprint shows (app, CLI and report)."""
