"""`python -m adgen`: the `adgen` command (see `adgen.tools.cli`)."""

if __name__ == "__main__":
    import sys

    from adgen.tools.cli import main

    sys.exit(main())
