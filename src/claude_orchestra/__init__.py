"""claude_orchestra: a team of real Claude Code instances on one git repository."""
