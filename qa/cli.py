"""Entry point of the `callqa` console command."""

from qa.commands import app

if __name__ == "__main__":
    app()
