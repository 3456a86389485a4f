"""Site profiles: which Epic customer the synthetic data claims to come from.

Epic's site-specific OIDs share one root per customer and environment,
``1.2.840.114350.1.13.<CID>.<env>.7``, and the MRN's identifier label differs by site (the sandbox
calls it "EPI"; EPIC.md §6). The generator renders everything with the sandbox root; a :class:`Site`
rewrites finished lines to another customer's root and MRN label. The rewrite is a plain substring
replacement, safe because the sandbox root followed by a dot occurs only inside our own OIDs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from epic_assets.emulator.synthetic import vocab
from epic_assets.emulator.synthetic.template import js

SANDBOX_ROOT = vocab.SITE.removeprefix("urn:oid:")
SANDBOX_MRN_LABEL = "EPI"
_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,39}")
_MRN_TYPE = '"type":{"text":' + js(SANDBOX_MRN_LABEL) + "}"


@dataclass(frozen=True)
class Site:
    """An Epic customer's OID root and MRN label; the default is Epic's public sandbox."""

    oid_root: str = SANDBOX_ROOT
    mrn_label: str = SANDBOX_MRN_LABEL

    def __post_init__(self) -> None:
        if not _OID.fullmatch(self.oid_root):
            raise ValueError(f"site OID root {self.oid_root!r} is not a dotted OID like '1.2.840.114350.1.13.0.1.7'")
        if not _LABEL.fullmatch(self.mrn_label):
            raise ValueError(f"MRN label {self.mrn_label!r}: expected letters, digits, space, '.', '_' or '-'")

    @classmethod
    def customer(cls, cid: int, environment: int, mrn_label: str = "MRN") -> Site:
        """The site root Epic assigns a customer ID and environment (production is usually 1)."""
        if cid < 0 or environment < 0:
            raise ValueError("customer id and environment are non-negative integers")
        return cls(f"1.2.840.114350.1.13.{cid}.{environment}.7", mrn_label)

    @property
    def is_sandbox(self) -> bool:
        return self.oid_root == SANDBOX_ROOT and self.mrn_label == SANDBOX_MRN_LABEL

    def rewriter(self, resource_type: str) -> Callable[[str], str] | None:
        """A function turning a sandbox-rendered line into this site's, or None when nothing changes."""
        if self.is_sandbox:
            return None
        sandbox, ours = SANDBOX_ROOT + ".", self.oid_root + "."
        if resource_type == "Patient" and self.mrn_label != SANDBOX_MRN_LABEL:
            label = '"type":{"text":' + js(self.mrn_label) + "}"
            return lambda line: line.replace(sandbox, ours).replace(_MRN_TYPE, label)
        if sandbox == ours:
            return None
        return lambda line: line.replace(sandbox, ours)

    def to_sandbox(self, query: str) -> str:
        """A ``_typeFilter`` query with this site's OIDs mapped back to the sandbox's, as rows carry them."""
        return query.replace(self.oid_root + ".", SANDBOX_ROOT + ".")


SANDBOX = Site()
