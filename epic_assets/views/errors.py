"""The error every ViewDefinition problem surfaces as, naming the offending element."""

from __future__ import annotations

from epic_assets.errors import EpicAssetsError


class ViewDefinitionError(EpicAssetsError):
    """A ViewDefinition is invalid or uses something the compiler cannot translate.

    The message starts with the location inside the view (``select[1].column[0].path: ...``) so a user
    can find the element without reading a stack trace.
    """
