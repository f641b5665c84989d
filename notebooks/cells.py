"""The cells of the TP's four notebooks, in order (see build_notebooks.py and cellkit.py).

Importing the parts appends their cells to ``CELLS`` in this order.
"""

from cellkit import CELLS  # noqa: F401

import cells_intro  # noqa: F401,E402  title, setup, settings, section I, the 2-D section
import cells_tp  # noqa: F401,E402  sections II to IV: the TP's code (student edition) or the package's
