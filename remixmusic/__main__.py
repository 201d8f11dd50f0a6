"""``python -m remixmusic``: the same command line as the ``remixmusic`` script."""

from remixmusic.cli import main

if __name__ == "__main__":
    main()
