"""`python -m adgen`: the `adgen` command (see `adgen.cli`)."""

if __name__ == "__main__":
    import sys

    from adgen.cli import main

    sys.exit(main())
