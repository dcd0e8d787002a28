"""The service of the incident, rebuilt from real parts.

Pure parts, shared with the simulator: the timeout `policy`, the lease `arbiter`, the `remedies`
and the service `settings`. Running parts: the `worker` process and its `manager` (with the
`message` between them and the caller's `jobs`), the arbiter on a real clock (`realtime`) with its
`usage` samplers, the `node` that takes a job from audio to answer, `build` (one service for
every experiment), the incident's `replay` and fault injection (`faults`).
"""
