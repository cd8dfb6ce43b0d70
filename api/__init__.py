"""The composition root: settings, services, the CLI and (later) the HTTP app."""
