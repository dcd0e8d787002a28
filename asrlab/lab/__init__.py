"""Experiments at scale: an experiment YAML as points (`experiment`), one point run
(`point`), where points run (`runners`: a local pool, or Dask through `cluster`), the cached
sweep (`sweep`) and what it returns (`outcomes`), notebooks under papermill (`notebooks`), two
runs compared (`compare`), and the reports a person opens (`reports`, with each notebook's
section across points: `summaries`; the reproduce report's answer: `incident`); `paths` finds
notebooks and experiments by name.
"""
