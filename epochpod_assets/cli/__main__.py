"""`python -m epochpod_assets.cli`: the same as the `epochpod` command."""

import sys

from epochpod_assets.cli import main

sys.exit(main())
