"""The claude-orchestra command."""


def main(argv: list[str] | None = None) -> int:
    """Entry point (placeholder until the commands land)."""
    return 0
