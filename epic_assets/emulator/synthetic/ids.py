"""Epic-looking FHIR ids that are deterministic, unique and reversible.

Epic's ids look random (``erXuFYUfucBZaryVksYEcMg3``, ``fyJtButeQVDgXCSm52GXScgaGYMvAhdc.hGoRprNNIoE4``)
and use the alphabet ``[A-Za-z0-9.-]``. We produce the same look from a 64-bit payload
``(kind, patient index, item index)`` pushed through a keyed, invertible mixer; extra words are chained
from the first. Because the first word is invertible, an id can be decoded back to its payload, which is
how ``Binary/<id>`` is served without storing anything: decode, regenerate, compare.

Shapes: ``e`` + 22 characters + ``3`` (24 characters) for most resources, ``f`` + 43 + ``4``
(45 characters) for Observations and RTF binaries, and for a small fraction ``f`` + 65 + ``5``
(67 characters), longer than FHIR's 64-character limit as Epic's can be (EPIC.md §5).
"""

from __future__ import annotations

import binascii
import hashlib
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

_MASK = (1 << 64) - 1
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
_INV1 = pow(_MUL1, -1, 1 << 64)
_INV2 = pow(_MUL2, -1, 1 << 64)
_PATIENT_BITS = 36
_ITEM_BITS = 20
_MAX_PATIENTS = 1 << _PATIENT_BITS
MAX_ITEMS = 1 << _ITEM_BITS

# Standard base64 with '+' and '/' replaced by the two punctuation marks Epic ids use.
_TO_EPIC = bytes.maketrans(b"+/", b".-")
_FROM_EPIC = bytes.maketrans(b".-", b"+/")
# One id in this many (chosen from the payload, so it is reproducible) is "long": over 64 characters.
_LONG_ID_EVERY = 40


class Kind(IntEnum):
    """What an id names; part of the payload so ids of different kinds never collide."""

    PATIENT = 1
    ENCOUNTER = 2
    OBSERVATION = 3
    CONDITION = 4
    IMMUNIZATION = 5
    MEDICATION_REQUEST = 6
    DIAGNOSTIC_REPORT = 7
    ALLERGY = 8
    PROCEDURE = 9
    DOCUMENT_REFERENCE = 10
    BINARY = 11
    SERVICE_REQUEST = 12
    SPECIMEN = 13
    DSTU2_PATIENT = 14


@dataclass(frozen=True)
class Payload:
    kind: Kind
    patient: int
    item: int


def _mix(value: int, key: int) -> int:
    value = ((value ^ key) * _MUL1) & _MASK
    value ^= value >> 31
    value = (value * _MUL2) & _MASK
    return value ^ (value >> 29)


def _unshift(value: int, shift: int) -> int:
    result = value
    part = value >> shift
    while part:
        result ^= part
        part >>= shift
    return result


def _unmix(value: int, key: int) -> int:
    value = (_unshift(value, 29) * _INV2) & _MASK
    value = (_unshift(value, 31) * _INV1) & _MASK
    return value ^ key


@lru_cache(maxsize=64)
def seed_keys(seed: int) -> tuple[int, ...]:
    """Eight 64-bit keys derived from the seed: 0-5 for ids, 6 for the per-patient random streams."""
    digest = hashlib.sha512(f"epic-assets synthetic ids {seed}".encode()).digest()
    return tuple(int.from_bytes(digest[i : i + 8], "big") for i in range(0, 64, 8))


def _encode_bytes(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).translate(_TO_EPIC).rstrip(b"=").decode("ascii")


def _encode(words: int, nbytes: int) -> str:
    return _encode_bytes(words.to_bytes(nbytes, "big"))


class IdFactory:
    """Ids for one seed. ``short`` ids are Epic's 24-character form, ``long_form`` the 45/67 one.

    Long-form ids of one patient and kind share their first 22 characters (``f`` + 21), as Epic's do
    (``fyJtButeQVDgXCSm52GXSc…`` on every vital sign of the sandbox patient); the payload follows.
    Both forms are inlined arithmetic: they are called once or twice per generated resource.
    """

    __slots__ = ("_k", "_prefixes")

    def __init__(self, seed: int) -> None:
        self._k = seed_keys(seed)
        self._prefixes: dict[int, str] = {}

    def _payload(self, kind: int, patient: int, item: int) -> str:
        """22 characters encoding the mixed payload (first word) and a derived second word."""
        if not 0 <= patient < _MAX_PATIENTS or not 0 <= item < MAX_ITEMS:
            raise ValueError(f"id payload out of range: patient={patient} item={item}")
        keys = self._k
        value = (((kind << (_PATIENT_BITS + _ITEM_BITS)) | (patient << _ITEM_BITS) | item) ^ keys[0]) * _MUL1 & _MASK
        value ^= value >> 31
        value = (value * _MUL2) & _MASK
        first = value ^ (value >> 29)
        second = ((first ^ keys[1]) * _MUL2) & _MASK
        raw = ((first << 64) | second).to_bytes(16, "big")
        return binascii.b2a_base64(raw, newline=False)[:22].translate(_TO_EPIC).decode("ascii")

    def short(self, kind: Kind, patient: int, item: int = 0) -> str:
        return "e" + self._payload(kind, patient, item) + "3"

    def long_form(self, kind: Kind, patient: int, item: int = 0) -> str:
        payload = self._payload(kind, patient, item)
        key = (kind << _PATIENT_BITS) | patient
        prefix = self._prefixes.get(key)
        if prefix is None:
            if len(self._prefixes) > 4096:  # bounded: generation walks patients in order
                self._prefixes.clear()
            word = _mix(key, self._k[2])
            prefix = self._prefixes[key] = _encode((word << 64) | _mix(word, self._k[3]), 16)[:21]
        # One id in _LONG_ID_EVERY gets a second payload-derived block: over 64 characters, as Epic's can be.
        if ord(payload[-2]) % _LONG_ID_EVERY:
            return "f" + prefix + payload + "4"
        extra = _mix(int.from_bytes(payload.encode("ascii")[:8], "big") & _MASK, self._k[4])
        return "f" + prefix + payload + _encode((extra << 64) | _mix(extra, self._k[5]), 16)[:22] + "5"

    def decode(self, fhir_id: str) -> Payload | None:
        """The payload an id of ours was made from, or None when the id is not one of ours."""
        if len(fhir_id) == 24 and fhir_id[0] == "e":
            encoded = fhir_id[1:23]
        elif len(fhir_id) in (45, 67) and fhir_id[0] == "f":
            encoded = fhir_id[22:44]
        else:
            return None
        if not encoded.isascii():
            return None
        try:
            raw = binascii.a2b_base64(encoded.encode("ascii").translate(_FROM_EPIC) + b"==")
        except binascii.Error:
            return None
        value = _unmix(int.from_bytes(raw[:8], "big"), self._k[0])
        kind_value = value >> (_PATIENT_BITS + _ITEM_BITS)
        if kind_value not in Kind._value2member_map_:
            return None
        payload = Payload(Kind(kind_value), (value >> _ITEM_BITS) & (_MAX_PATIENTS - 1), value & (MAX_ITEMS - 1))
        rebuilt = self.short if fhir_id[0] == "e" else self.long_form
        return payload if rebuilt(payload.kind, payload.patient, payload.item) == fhir_id else None


def fixed_id(label: str) -> str:
    """A seed-independent Epic-style id for shared records (a Medication, a Location) named by ``label``."""
    digest = hashlib.sha256(label.encode()).digest()[:16]
    return "e" + _encode_bytes(digest)[:22] + "3"
