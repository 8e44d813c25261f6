"""`python -m evalgate …` (and `accelerate launch -m evalgate train …`): the CLI."""

import sys

from evalgate.cli.main import main

sys.exit(main())
