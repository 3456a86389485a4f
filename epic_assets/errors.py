"""The one exception base the command line turns into a plain message instead of a stack trace."""


class EpicAssetsError(Exception):
    """An expected failure with a message meant for the user (bad input, configuration, lock held)."""
