"""``python -m skvae`` runs the ``skvae`` command."""

import sys

from ._command import main

sys.exit(main())
