"""Errors a user can cause. The CLI turns each into one message and exit code 2."""


class UserError(Exception):
    """A mistake in the user's input (study file, data folder, results folder, arguments).

    The message must name the file, the key or array, what is allowed and what was found.
    """


class DataError(UserError):
    """A data file is missing or malformed."""


class StudyError(UserError):
    """A study file is malformed."""
