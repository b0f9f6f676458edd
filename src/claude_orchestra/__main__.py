"""``python -m claude_orchestra``: the same as the ``claude-orchestra`` command."""

import sys

from claude_orchestra.cli import main

sys.exit(main())
