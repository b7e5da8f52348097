import sys

from tunesday.generate.cli import main

if __name__ == "__main__":
    sys.exit(main())
