"""`python -m chaos` is the `drill` command."""

from chaos.cli import main

if __name__ == "__main__":
    main()
