"""``python -m srsupm_lab.data.originals``: see :mod:`srsupm_lab.data.originals.cli`."""
import sys

from .cli import main

sys.exit(main())
