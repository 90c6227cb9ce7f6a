import sys

from dtn.cli import main

sys.exit(main())
