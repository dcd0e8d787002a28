"""Audio in: decoding untrusted files (`samples`, in a child process: `child`), stress signals
(`signals`), the bundled clips with their references (`corpus`) and voice activity (`vad`).

Knows nothing of decoding, the service or the lab.
"""
