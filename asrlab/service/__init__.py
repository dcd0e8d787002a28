"""The service of the incident, rebuilt from real parts.

Pure parts, shared with the simulator: the timeout `policy`, the lease `arbiter`, the `remedies`
and the service `settings`. Running parts: the `worker` process and its `manager` (with the
`message` between them and the caller's `jobs`), the arbiter on a real clock (`realtime`) with its
`usage` samplers, the `node` that takes a job from audio to answer, `build` (one service for
every experiment), the incident's `replay` (its thresholds scaled to this machine: `scaling`) and
fault injection (`faults`). Every producer of job results (the node, the simulator, the wire)
emits one typed record, `rows.JobRow`, and tables are made from it in one place (`rows.frame`).
"""
