"""`python -m adgen.fuzz`: see `adgen.fuzz.runner`."""

import sys

from adgen.fuzz.runner import main

sys.exit(main())
