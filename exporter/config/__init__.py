"""Everything read from the YAML file and the flags, parsed and validated once."""

from exporter.config.errors import ConfigError
from exporter.config.model import Config, config_from_dict, load_config

__all__ = ["Config", "ConfigError", "config_from_dict", "load_config"]
