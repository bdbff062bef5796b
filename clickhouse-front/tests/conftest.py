import os
import sys

# The front is one script, not a package: import it from the folder above.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
