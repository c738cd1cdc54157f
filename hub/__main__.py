"""`python -m hub` is the `replydesk` command."""

import sys

from hub.cli import main

sys.exit(main())
