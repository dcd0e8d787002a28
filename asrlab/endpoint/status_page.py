"""``GET /``: the server's status page, plain HTML that reloads itself each second (no script).

It shows the lease (its state and who holds it, overdue or not), the requests in flight, the last
jobs with their timelines drawn to one time axis (one colored span per stage, between two marks
of the node's timeline, as docs/incident.md's table lists them) and the counters. A person
watching a drive screenshots it; a test reads the same `LabState` as JSON.
"""

from __future__ import annotations

import math
from html import escape

from asrlab.endpoint.state import JobView, LabState

SHOWN_JOBS = 20
# The stage a span is in, by the mark that opens it (the first word of the mark's text).
STAGE_COLORS = {
    "received": ("#b0bec5", "decode"),
    "decoded": ("#90a4ae", "VAD"),
    "VAD": ("#ffcc80", "lease wait"),
    "lease": ("#81c784", "on the worker"),
    "submitted": ("#4db6ac", "worker queue"),
    "worker": ("#4fc3f7", "decoding"),
    "first": ("#29b6f6", "decoding"),
    "language": ("#1e88e5", "transcribe()"),
    "transcribe()": ("#5c6bc0", "segments"),
    "segments": ("#9575cd", "answering"),
    "timed": ("#e57373", "after the timeout"),
    "client": ("#f06292", "after the client left"),
}
OTHER = ("#cfd8dc", "")
STATE_COLORS = {"NORMAL": "#2e7d32", "HIGH_PRESSURE": "#ef6c00", "GPU_USAGE_HIGH": "#c62828"}

CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:18px 24px;color:#263238;background:#fafafa}
h1{font-size:20px;margin:0 0 4px} h2{font-size:15px;margin:18px 0 6px}
.sub{color:#607d8b} .badge{display:inline-block;padding:3px 10px;border-radius:4px;color:#fff;
font-weight:600} table{border-collapse:collapse;width:100%;background:#fff}
td,th{padding:3px 8px;border-bottom:1px solid #eceff1;text-align:left;font-size:13px;
white-space:nowrap} th{color:#546e7a;font-weight:600} .num{text-align:right;
font-variant-numeric:tabular-nums} .bar{position:relative;height:16px;min-width:420px;
background:#f5f5f5} .bar span{position:absolute;top:0;height:16px}
.axis{position:relative;height:14px;min-width:420px;font-size:10px;color:#78909c}
.axis span{position:absolute;transform:translateX(-50%)} .overdue{color:#c62828;font-weight:600}
.ok{color:#2e7d32} .bad{color:#c62828} .warn{color:#ef6c00} .cards{display:flex;gap:12px}
.card{background:#fff;border:1px solid #eceff1;border-radius:6px;padding:8px 14px}
.card b{display:block;font-size:20px} .legend span{display:inline-block;margin-right:10px}
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px}
"""


def render(state: LabState) -> str:
    """The page of ``state``."""
    svc = state.service
    color = STATE_COLORS.get(svc.lease_state, "#607d8b")
    status = "shutting down" if state.shutting_down else ("ready" if state.ready else "loading")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        "<meta http-equiv='refresh' content='1'><title>asrlab serve</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>asrlab serve <span class='sub'>{escape(state.model)} · remedy "
        f"{escape(state.remedy)} · policy {escape(state.policy)} · {status}</span></h1>",
        f"<div class='cards'>{_cards(state)}</div>",
        f"<h2>Lease <span class='badge' style='background:{color}'>"
        f"{escape(svc.lease_state)}</span> <span class='sub'>{svc.lease_waiters} waiting · "
        f"workers {', '.join(map(str, svc.worker_pids)) or 'none'}</span></h2>",
        _leases(state),
        f"<h2>In flight ({len(state.inflight)})</h2>",
        _inflight(state),
        f"<h2>Last jobs ({min(len(state.jobs), SHOWN_JOBS)})</h2>",
        _legend(),
        _jobs(state.jobs[:SHOWN_JOBS]),
        "</body></html>",
    ]
    return "".join(parts)


def _cards(state: LabState) -> str:
    c, svc = state.counters, state.service
    ok = c.by_status.get(200, 0)
    failed = sum(n for s, n in c.by_status.items() if s not in (200, 499))
    cards = [
        ("answered 200", ok), ("failed", failed), ("client gone (499)", c.client_gone),
        ("in flight", len(state.inflight)), ("worker restarts", svc.restarts),
        ("crashes", svc.crashes), ("late results", svc.late_results),
    ]  # fmt: skip
    return "".join(f"<div class='card'><b>{n}</b>{escape(label)}</div>" for label, n in cards)


def _leases(state: LabState) -> str:
    if not state.service.leases:
        return "<p class='sub'>no lease held</p>"
    rows = "".join(
        f"<tr><td>{lease.token}</td><td>{escape(lease.holder)}</td>"
        f"<td class='num'>{lease.held_s:.1f} s</td><td class='num'>{lease.hold_max_s:.1f} s</td>"
        f"<td class='{'overdue' if lease.overdue else 'ok'}'>"
        f"{'OVERDUE' if lease.overdue else 'in time'}</td></tr>"
        for lease in state.service.leases
    )
    head = "<tr><th>token</th><th>holder</th><th>held</th><th>hold max</th><th></th></tr>"
    return f"<table>{head}{rows}</table>"


def _inflight(state: LabState) -> str:
    if not state.inflight:
        return "<p class='sub'>none</p>"
    rows = "".join(
        f"<tr><td>{escape(f.job_id)}</td><td>{escape(f.stage)}</td>"
        f"<td class='num'>{f.age_s:.1f} s</td><td>{'stream' if f.stream else ''}</td></tr>"
        for f in state.inflight
    )
    return f"<table><tr><th>job</th><th>stage</th><th>age</th><th></th></tr>{rows}</table>"


def _legend() -> str:
    seen: dict[str, str] = {}
    for color, label in STAGE_COLORS.values():
        seen.setdefault(label, color)
    items = "".join(
        f"<span><i style='background:{c}'></i>{escape(s)}</span>" for s, c in seen.items()
    )
    return f"<p class='legend sub'>{items}</p>"


def _jobs(jobs: tuple[JobView, ...]) -> str:
    if not jobs:
        return "<p class='sub'>none yet</p>"
    span_s = max([_end(j) for j in jobs] + [1.0])
    scale_s = _nice(span_s)
    head = (
        "<tr><th>job</th><th>HTTP</th><th>code</th><th>audio</th><th>total</th>"
        f"<th>timeline (s)<div class='axis'>{_axis(scale_s)}</div></th></tr>"
    )
    rows = "".join(_job_row(j, scale_s) for j in jobs)
    return f"<table>{head}{rows}</table>"


def _job_row(job: JobView, scale_s: float) -> str:
    http = "" if job.http_status is None else str(job.http_status)
    klass = "ok" if job.http_status == 200 else ("warn" if job.http_status == 499 else "bad")
    code = job.code + (f" ({job.disconnect_action})" if job.disconnect_action else "")
    title = escape(job.error or "", quote=True)
    return (
        f"<tr><td>{escape(job.job_id)}</td><td class='{klass}'>{http}</td>"
        f"<td title='{title}'>{escape(code)}</td><td class='num'>{job.audio_s:.1f} s</td>"
        f"<td class='num'>{job.total_s:.2f} s</td><td>{_bar(job, scale_s)}</td></tr>"
    )


def _bar(job: JobView, scale_s: float) -> str:
    spans = []
    events = job.timeline
    for here, nxt in zip(events, events[1:], strict=False):
        if nxt.t_s <= here.t_s:
            continue
        color, stage = STAGE_COLORS.get(here.event.split()[0], OTHER)
        left, width = 100 * here.t_s / scale_s, 100 * (nxt.t_s - here.t_s) / scale_s
        tip = escape(f"{here.event} -> {nxt.event}: {nxt.t_s - here.t_s:.2f} s ({stage})", True)
        spans.append(
            f"<span title='{tip}' style='left:{left:.2f}%;width:{max(width, 0.3):.2f}%;"
            f"background:{color}'></span>"
        )
    return f"<div class='bar'>{''.join(spans)}</div>"


def _end(job: JobView) -> float:
    return max((e.t_s for e in job.timeline), default=0.0)


def _nice(span_s: float) -> float:
    """The axis's end: 1, 2 or 5 times a power of ten, at or above ``span_s``."""
    power = 10 ** math.floor(math.log10(span_s))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= span_s)


def _axis(scale_s: float) -> str:
    ticks = [scale_s * i / 5 for i in range(6)]
    return "".join(f"<span style='left:{100 * t / scale_s:.0f}%'>{t:g}</span>" for t in ticks)
