"""The fallback verdicts: why each decoding attempt was accepted, retried or dropped.

The rules are faster-whisper 1.2.1's ``generate_with_fallback``, applied to the same numbers it
computed (same formulas), so the verdicts agree with what its loop did.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faster_whisper.transcribe import get_compression_ratio

from asrlab.decoding.trace import (
    ACCEPTED,
    ALL_FAILED,
    NO_SPEECH,
    OVER_BUDGET,
    RETRY,
    STOPPED,
    Attempt,
)


@dataclass
class RawAttempt:
    seconds: float
    prompt_len: int
    kwargs: dict[str, Any]
    result: Any


def judge_attempts(
    window: int,
    raw: list[RawAttempt],
    tokenizer: Any,
    options: Any,
    model_max_length: int,
    *,
    stopped: bool = False,
    over_budget: bool = False,
) -> list[Attempt]:
    """Label each attempt with the checks it failed and what that meant for the loop.

    The rules are faster-whisper 1.2.1's ``generate_with_fallback``, applied to the same numbers
    it computed (same formulas), so the verdicts agree with what the loop did. ``stopped``: a
    cooperative deadline ended the loop; ``over_budget``: the fallback budget did.
    """
    attempts: list[Attempt] = []
    for i, r in enumerate(raw):
        temperature = float(r.kwargs.get("sampling_temperature", 0.0))
        tokens = r.result.sequences_ids[0]
        seq_len = len(tokens)
        avg_logprob = r.result.scores[0] * (seq_len**options.length_penalty) / (seq_len + 1)
        text = tokenizer.decode(tokens).strip()
        compression_ratio = get_compression_ratio(text)
        no_speech_prob = float(r.result.no_speech_prob)
        failed: list[str] = []
        cr_t, lp_t, ns_t = (
            options.compression_ratio_threshold,
            options.log_prob_threshold,
            options.no_speech_threshold,
        )
        if cr_t is not None and compression_ratio > cr_t:
            failed.append(f"compression_ratio {compression_ratio:.2f} > {cr_t}")
        if lp_t is not None and avg_logprob < lp_t:
            failed.append(f"avg_logprob {avg_logprob:.2f} < {lp_t}")
        silence = (
            ns_t is not None and no_speech_prob > ns_t and lp_t is not None and avg_logprob < lp_t
        )
        if not failed:
            verdict = ACCEPTED
        elif silence:
            verdict = NO_SPEECH
        elif i == len(raw) - 1:
            verdict = STOPPED if stopped else OVER_BUDGET if over_budget else ALL_FAILED
        else:
            verdict = RETRY
        sampling = temperature > 0
        max_length = int(r.kwargs.get("max_length", model_max_length))
        # Measured with CTranslate2 4.8: Whisper generation stops at max_length // 2 new tokens
        # (224 by default, like openai/whisper's sample_len), not at max_length - prompt.
        limit = min(max_length // 2, max_length - r.prompt_len)
        attempts.append(
            Attempt(
                window=window,
                index=i,
                temperature=temperature,
                mode="sampling" if sampling else "beam",
                beam_size=int(r.kwargs.get("beam_size", 1)),
                hypotheses=int(r.kwargs.get("num_hypotheses", 1)),
                tokens=seq_len,
                tokens_all=sum(len(s) for s in r.result.sequences_ids),
                token_limit=int(limit),
                seconds=r.seconds,
                compression_ratio=float(compression_ratio),
                avg_logprob=float(avg_logprob),
                no_speech_prob=no_speech_prob,
                failed=tuple(failed),
                verdict=verdict,
                text=text[:80],
            )
        )
    return attempts
