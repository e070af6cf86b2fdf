"""``python -m dysen_core.cli``: the ``dysen`` command, e.g. under ``accelerate launch -m dysen_core.cli train ...``."""

from . import main

main()
