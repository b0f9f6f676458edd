"""Pytest fixtures shipped with claude_orchestra (registered through the pytest11 entry point)."""
