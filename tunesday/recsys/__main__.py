"""python -m tunesday.recsys: the same as tunesday-recsys."""

import sys

from tunesday.recsys.cli import main

sys.exit(main())
