"""PyAV decoding, run in-process or as a throw-away child process.

Child protocol (``python -m asrlab.audio.pyav_decode --max-samples N --rate-hz R [--path P]``):
the input is the file at P or, without ``--path``, all of stdin. On success the child writes raw
16-bit mono PCM (native byte order) at R Hz to stdout and exits 0. On audio it cannot turn into
samples it writes one line ``reason<TAB>message`` to stderr and exits `EXIT_AUDIO_ERROR`; any other
exit status, or death by a signal, means the decoder itself failed.

Only the standard library and av are imported, and av only when something is decoded: the child
must start fast (numpy alone would add about 0.1 s to every isolated decode), and `asrlab.audio`
imports this module for the protocol.
"""

from __future__ import annotations

import gc
import io
import struct
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from asrlab.errors import AudioError

if TYPE_CHECKING:
    import av.container

EXIT_AUDIO_ERROR = 3  # 1 is Python's own status for an uncaught exception, 2 argparse's
BYTES_PER_SAMPLE = 2  # s16: half the pipe traffic of float32, and what faster-whisper decodes to

# A container may declare a little more than decodes (codec delay, a dropped last frame); only a
# gap this large on both counts is reported as a truncated stream.
TRUNCATED_MIN_GAP_S = 0.5
TRUNCATED_MIN_GAP_FRACTION = 0.02

_WAV_HEAD_BYTES = 1 << 16  # RIFF chunks before "data" (LIST, fact, ...) fit in far less


def child_args(*, max_samples: int, rate_hz: int, path: str | None) -> list[str]:
    """Arguments after the interpreter and module, in the form `main` parses."""
    args = ["--max-samples", str(max_samples), "--rate-hz", str(rate_hz)]
    return [*args, "--path", path] if path is not None else args


def format_error_line(error: AudioError) -> str:
    """One stderr line for `error`; tabs and newlines in the message are flattened.

    The child raises with an empty source, so the parent can attach its own.
    """
    return f"{error.reason}\t{' '.join(str(error).split())}"


def parse_error_line(stderr: str) -> tuple[str, str] | None:
    """(reason, message) from the last line of a child's stderr, or None if it is not one."""
    lines = stderr.strip().splitlines()
    if not lines or "\t" not in lines[-1]:
        return None
    reason, message = lines[-1].split("\t", 1)
    return (reason, message) if reason.isidentifier() else None


def decode_pyav(source: str | bytes, *, max_samples: int, rate_hz: int, label: str) -> bytearray:
    """Decode a path or an encoded byte string to 16-bit mono PCM at `rate_hz`.

    The conversion is faster-whisper's `decode_audio` (PyAV resampler to s16, mono), so the samples
    are bit-for-bit what the production service transcribed. Returns native-endian int16 bytes:
    `np.frombuffer(pcm, np.int16)` views them without a copy.

    Raises AudioError "undecodable" (FFmpeg cannot read it, or no audio stream), "too_long" as
    soon as more than `max_samples` samples have been decoded, and "truncated" when the container
    declares clearly more audio than decodes. Other checks are left to `samples.validate`.
    """
    import av  # why here: see the module docstring

    try:
        container = av.open(
            io.BytesIO(source) if isinstance(source, bytes) else source,
            mode="r",
            metadata_errors="ignore",
        )
    except av.error.FFmpegError as e:
        raise AudioError(
            "undecodable",
            f"FFmpeg cannot read this as audio ({e.strerror or e}); check the file "
            "or convert it: ffmpeg -i IN -ac 1 -ar 16000 OUT.wav",
            label,
        ) from e
    with container:
        if not container.streams.audio:
            kinds = ", ".join(s.type for s in container.streams) or "none"
            raise AudioError(
                "undecodable",
                f"FFmpeg read it as {container.format.name!r} but found no audio stream "
                f"(streams: {kinds})",
                label,
            )
        declared_s = _declared_duration_s(container)
        resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=rate_hz)
        try:
            pcm = collect(
                _pcm_chunks(container, resampler),
                max_samples=max_samples,
                rate_hz=rate_hz,
                declared_s=declared_s,
                label=label,
            )
        except av.error.FFmpegError as e:
            raise AudioError("undecodable", f"FFmpeg failed mid-stream: {e}", label) from e
        finally:
            # faster-whisper#390: the resampler's buffers are freed only by a collection.
            del resampler
            gc.collect()
    if isinstance(source, bytes):
        wav_s = _wav_declared_duration_s(source[:_WAV_HEAD_BYTES])
    else:
        with open(source, "rb") as f:
            wav_s = _wav_declared_duration_s(f.read(_WAV_HEAD_BYTES))
    # FFmpeg shrinks a WAV's duration to the bytes present, so its header is read separately.
    declared = [d for d in (declared_s, wav_s) if d is not None]
    _check_truncated(len(pcm) / BYTES_PER_SAMPLE / rate_hz, max(declared, default=None), label)
    return pcm


def collect(
    chunks: Iterable[bytes | memoryview],
    *,
    max_samples: int,
    rate_hz: int,
    declared_s: float | None = None,
    label: str = "",
) -> bytearray:
    """Concatenate chunks of s16 PCM, stopping with AudioError "too_long" past `max_samples`.

    The check runs per chunk, so a stream of any length costs at most `max_samples` plus one
    chunk of memory before it is rejected.
    """
    out = bytearray()
    for chunk in chunks:
        out += chunk
        total = len(out) // BYTES_PER_SAMPLE
        if total > max_samples:
            declared = f"; the stream declares {declared_s:.1f} s" if declared_s else ""
            raise AudioError(
                "too_long",
                f"decoding stopped after {total / rate_hz:.1f} s, past the limit of "
                f"max_duration_s={max_samples / rate_hz:g} s{declared}; split the audio or "
                "raise max_duration_s",
                label,
            )
    return out


def _pcm_chunks(container: av.container.InputContainer, resampler: Any) -> Iterator[memoryview]:
    """s16 PCM of the first audio stream, resampled to mono; skips frames FFmpeg rejects."""
    import av

    frames = container.decode(audio=0)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            break
        except av.error.InvalidDataError:
            # As faster-whisper does: a damaged frame is dropped; decode_pyav's truncation check
            # reports the loss when it is large.
            continue
        for out in resampler.resample(frame):
            yield _frame_bytes(out)
    for out in resampler.resample(None):  # flush the samples the resampler holds back
        yield _frame_bytes(out)


def _frame_bytes(frame: Any) -> memoryview:
    # The plane's buffer is padded for alignment past the last sample.
    return memoryview(frame.planes[0])[: BYTES_PER_SAMPLE * frame.samples]


def _declared_duration_s(container: av.container.InputContainer) -> float | None:
    """Duration in seconds that the first audio stream (else the container) declares."""
    stream = container.streams.audio[0]
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE: microseconds
    return None


def _wav_declared_duration_s(head: bytes) -> float | None:
    """Duration in seconds from a RIFF/WAVE header's data chunk size, or None if not a WAV."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    byte_rate = 0
    pos = 12
    while pos + 8 <= len(head):
        chunk_id, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if chunk_id == b"fmt " and pos + 16 <= len(head):
            byte_rate = struct.unpack("<I", head[pos + 16 : pos + 20])[0]
        elif chunk_id == b"data":
            # 0 and 0xFFFFFFFF are what streaming writers put when they do not know the size.
            if byte_rate == 0 or size in (0, 0xFFFFFFFF):
                return None
            return size / byte_rate
        pos += 8 + size + (size & 1)  # chunks are padded to an even size
    return None


def _check_truncated(decoded_s: float, declared_s: float | None, label: str) -> None:
    if declared_s is None:
        return
    gap_s = declared_s - decoded_s
    if gap_s > TRUNCATED_MIN_GAP_S and gap_s > TRUNCATED_MIN_GAP_FRACTION * declared_s:
        raise AudioError(
            "truncated",
            f"stream declares {declared_s:.2f} s but only {decoded_s:.2f} s decoded "
            f"({100 * decoded_s / declared_s:.0f} %); the file was probably cut short in a "
            "copy or an upload: fetch it again",
            label,
        )


def main(argv: list[str]) -> int:
    """Child entry point: decode, write samples to stdout; returns the exit status."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m asrlab.audio.pyav_decode")
    parser.add_argument("--max-samples", type=int, required=True)
    parser.add_argument("--rate-hz", type=int, required=True)
    parser.add_argument("--path")
    args = parser.parse_args(argv)
    source = args.path if args.path is not None else sys.stdin.buffer.read()
    try:
        samples = decode_pyav(source, max_samples=args.max_samples, rate_hz=args.rate_hz, label="")
    except AudioError as e:
        print(format_error_line(e), file=sys.stderr)
        return EXIT_AUDIO_ERROR
    sys.stdout.buffer.write(samples)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
