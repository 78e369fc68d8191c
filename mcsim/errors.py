"""Exceptions raised for bad user input."""


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type, out of range or inconsistent.

    The message always names the key (dotted path), the offending value and what is allowed.
    """

    def __init__(self, key: str, value, allowed: str):
        self.key = key
        self.value = value
        self.allowed = allowed
        super().__init__(f"{key} = {value!r}: {allowed}")
