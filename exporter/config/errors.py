"""The one error type of configuration parsing."""


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key."""
