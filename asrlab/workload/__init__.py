"""Traffic: a workload as data (`traffic`: config, mix, the seeded plan), what each job sounds like
(`sources`), running it for real through the service (`real`), and why each job failed
(`attribution`, pure: the real run and the simulator share it).
"""
