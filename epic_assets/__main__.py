import sys

from epic_assets.cli.main import main

sys.exit(main())
