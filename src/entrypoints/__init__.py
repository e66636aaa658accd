"""Where the outside world comes in: settings, the container, the HTTP app and the CLI."""
