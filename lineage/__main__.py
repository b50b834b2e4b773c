"""`python -m lineage`, and the file spark-submit runs::

spark-submit --master spark://HOST:7077 "$(python -c 'import lineage, os;
    print(os.path.dirname(lineage.__file__))')/__main__.py" gate DATASET --engine spark
    --export DIR
"""

import os
import sys

# Run as a file (spark-submit), Python puts this folder first on sys.path, where the
# package's modules would pass for top-level ones: only the installed package is imported.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _here]

from lineage.entry import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
