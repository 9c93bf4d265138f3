"""``python -m nacrith``: the same command line as the ``nacrith`` console script."""

from .cli import main

if __name__ == "__main__":
    main()
