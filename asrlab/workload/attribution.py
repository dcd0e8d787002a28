"""Why each failed job failed, and a workload's scoreboard line: pure over rows and events.

The same functions read a real workload's rows (`asrlab.workload.real`) and a simulation's
(`asrlab.sim.core`), so both print the same summary. They go column by column over a table of
`asrlab.service.rows.JobRow`s (a simulated day's 864,000 jobs), named by `Column`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from asrlab.service.rows import Column
from asrlab.stats import percentiles

LEASE_REFUSAL = "GPU lease"  # how every client-visible lease refusal begins (`timeout_reason`)
ATTRIBUTIONS = ("own_timeout", "cascade", "refused_other", "bad_input", "transport")
# ``error_type`` of a job that got no HTTP answer (`asrlab.endpoint.driver`): the wire failed.
TRANSPORT_ERRORS = ("ConnectionError", "ClientTimeout")
# ``error_type`` of a job a server refused at its door (429 and its kin): a refusal for capacity.
ADMISSION_ERRORS = ("QueueFull",)
_WORD = re.compile(r"[\w-]+")


def attribute(rows: pd.DataFrame, events: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Why each failed job failed: ``attribution`` (one of `ATTRIBUTIONS`) and ``blamed``.

    The rule, per row whose ``status`` is not "ok" (successes get None):

    - ``bad_input``: ``error_type`` is AudioError (rejected before VAD; never touched a lease).
    - ``cascade``: ``error_type`` is LeaseRejected, and at the instant the arbiter gave the job
      up (its last ``cancel`` event, an acquire timeout, or ``refuse`` event, an immediate
      refusal) another job's lease was live and overdue: granted by an earlier event, not yet
      ended by a ``release`` or ``revoke`` event (trace order decides ties of time), and
      ``grant t_ms + 1000 * lease_hold_max_s < refusal t_ms`` (strictly, as the arbiter counts
      overdue), with ``lease_hold_max_s`` from the holder's row. ``blamed`` lists those holders.
    - ``refused_other``: LeaseRejected with no such lease at that instant (capacity, a busy
      usage sample, a deadline-aware refusal of a merely full device), or no event to date it.
    - ``refused_other`` also: ``error_type`` is one of `ADMISSION_ERRORS` (a server's 429: it
      took no more requests; `asrlab.endpoint.driver`).
    - ``transport``: ``error_type`` is one of `TRANSPORT_ERRORS`: no HTTP answer came (the
      connection failed or the client's own timeout fired; `asrlab.endpoint.driver`).
    - ``own_timeout``: any other error: its own ASR timeout (also one that expired queued behind
      a worker still busy with an earlier job's late work), a cancellation (its own lease was
      revoked), a worker crash, a failed decode.

    Args:
        rows: one row per job with ``job_id``, ``status``, ``error_type`` and
            ``lease_hold_max_s`` (NaN/None where the job held no lease).
        events: the arbiter's events (``t_ms``, ``kind``, ``token``, ``holder``), in trace order.

    Returns:
        A DataFrame with ``attribution`` and ``blamed`` (comma-joined job ids), rows' index.
    """
    # Columns as lists: iterating a Series costs ~10x more per row (100,000 simulated jobs).
    jobs = rows[Column.job_id].tolist()
    holds = rows.get(Column.lease_hold_max_s, pd.Series(math.nan, index=rows.index))
    hold_s = {j: h for j, h in zip(jobs, holds.astype(float).tolist(), strict=True) if h == h}
    # One pass in trace order, keeping the live leases (token -> holder, due_ms): at most
    # ``capacity`` of them, so 100,000 simulated jobs attribute in a second.
    live: dict[int, tuple[str, float]] = {}
    blamed_at: dict[str, list[str]] = {}  # holder -> overdue holders at its last give-up
    for e in events:
        kind = e["kind"]
        if kind == "grant":
            live[e["token"]] = (e["holder"], e["t_ms"] + 1000.0 * hold_s.get(e["holder"], math.inf))
        elif kind in ("release", "revoke"):
            live.pop(e["token"], None)
        elif kind in ("cancel", "refuse"):
            me, t_ms = e["holder"], e["t_ms"]
            blamed_at[me] = [holder for holder, due in live.values() if holder != me and due < t_ms]
    out: list[tuple[str | None, str | None]] = []
    for job, status, error_type in zip(
        jobs, rows[Column.status].tolist(), rows[Column.error_type].tolist(), strict=True
    ):
        if status == "ok":
            out.append((None, None))
        elif error_type == "AudioError":
            out.append(("bad_input", None))
        elif error_type in TRANSPORT_ERRORS:
            out.append(("transport", None))
        elif error_type in ADMISSION_ERRORS:
            out.append(("refused_other", None))
        elif error_type != "LeaseRejected":
            out.append(("own_timeout", None))
        else:
            blamed = blamed_at.get(job, [])
            out.append(("cascade", ",".join(blamed)) if blamed else ("refused_other", None))
    columns = [Column.attribution, Column.blamed]
    return pd.DataFrame(out, columns=columns, index=rows.index, dtype=object)


def summarize(
    rows: pd.DataFrame, events: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """One workload's scoreboard line, from its rows (and its events, to attribute anew).

    Latency (``latency_s``: client wait plus the time to the client's answer, success or error)
    and lease wait are percentiles with 95 % bootstrap intervals (`asrlab.stats.percentile`);
    NaN where there are no values. ``errors`` counts each exact client-visible text;
    ``error_kinds`` the same texts with the job id and every number masked, so that timeouts of
    different jobs count together. The `ATTRIBUTIONS` count failed jobs.
    """
    c = Column
    attribution = rows[c.attribution] if events is None else attribute(rows, events)[c.attribution]
    ok = rows[c.status] == "ok"
    failed = rows[~ok]
    late = rows.get(c.worker_late_result, pd.Series(dtype=object))
    after = rows.get(c.worker_work_after_deadline_s, pd.Series(dtype=float))
    out: dict[str, Any] = {
        "remedy": rows[c.remedy].iloc[0] if len(rows) else None,
        "n_jobs": len(rows),
        "n_ok": int(ok.sum()),
        "success_rate": float(ok.mean()) if len(rows) else math.nan,
    }
    out |= _estimates("latency", rows[c.latency_s], (50, 95, 99))
    out |= _estimates("lease_wait", rows[c.lease_wait_s], (50, 95))
    out["work_after_deadline_s"] = float(pd.to_numeric(after).fillna(0.0).sum())
    out["late_results_discarded"] = int(late.eq(True).sum())
    out |= {name: int((attribution == name).sum()) for name in ATTRIBUTIONS}
    errors = rows[c.client_error].fillna("").astype(str)
    out["lease_refusals"] = int(errors.str.startswith(LEASE_REFUSAL).sum())
    out["errors"] = failed[c.client_error].value_counts().to_dict()
    texts = zip(failed[c.client_error], failed[c.job_id], strict=True)
    kinds = [_mask(str(text), job) for text, job in texts]
    out["error_kinds"] = pd.Series(kinds, dtype=object).value_counts().to_dict()
    return out


def summary_frame(
    rows: pd.DataFrame, events: Sequence[Mapping[str, Any]] | None = None
) -> pd.DataFrame:
    """`summarize` as a one-row DataFrame (the error counts as JSON text, for parquet)."""
    line = summarize(rows, events)
    line["errors"] = json.dumps(line["errors"])
    line["error_kinds"] = json.dumps(line["error_kinds"])
    return pd.DataFrame([line])


def format_summary(line: Mapping[str, Any]) -> str:
    """`summarize`'s line as the few lines a person reads first (the command line prints it)."""

    def est(name: str, q: int) -> str:
        value, low, high = (line[f"{name}_p{q}{s}_s"] for s in ("", "_low", "_high"))
        return f"p{q} {value:.2f} s [{low:.2f}, {high:.2f}]"

    failed = line["n_jobs"] - line["n_ok"]
    blame = ", ".join(f"{name} {line[name]}" for name in ATTRIBUTIONS)
    kinds = line["error_kinds"]
    kinds = json.loads(kinds) if isinstance(kinds, str) else kinds
    out = [
        f"remedy {line['remedy']}: {line['n_ok']}/{line['n_jobs']} ok "
        f"(success {line['success_rate']:.1%}), {failed} failed ({blame})",
        "latency   " + ", ".join(est("latency", q) for q in (50, 95, 99)),
        "lease wait " + ", ".join(est("lease_wait", q) for q in (50, 95)),
        f"work after the deadline {line['work_after_deadline_s']:.1f} s, "
        f"late results discarded {line['late_results_discarded']}",
    ]
    out += [f"  {count:>6} x {text}" for text, count in kinds.items()]
    return "\n".join(out)


def _estimates(name: str, values: pd.Series, qs: tuple[int, ...]) -> dict[str, float]:
    finite = pd.to_numeric(values, errors="coerce").dropna()
    out: dict[str, float] = {}
    found = percentiles(finite.to_numpy(), qs) if len(finite) else {}
    for q in qs:
        est = found.get(f"p{q}")
        out[f"{name}_p{q}_s"] = est.value if est else math.nan
        out[f"{name}_p{q}_low_s"] = est.low if est else math.nan
        out[f"{name}_p{q}_high_s"] = est.high if est else math.nan
    return out


def _mask(text: str, job_id: str) -> str:
    """'ASR task timeout: job job-3 passed its 8.0 s ...' -> '... job <job> passed its # s ...'."""
    # One compiled pattern for every job (a pattern per job id thrashes re's cache at 100,000).
    text = _WORD.sub(lambda m: "<job>" if m.group(0) == job_id else m.group(0), text)
    return re.sub(r"\d+(\.\d+)?", "#", text)
