"""The versions this release pins (no imports: every module may read them)."""

CLAUDE_CODE_VERSION = "2.1.328"
"""The Claude Code version this release drives (``tools/package.json`` pins the same)."""
