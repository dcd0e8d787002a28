"""The service's discrete-event twin (SimPy): the model (`core`), the measured costs it draws from
(`costs`), measuring them on this machine (`calibrate`), and capacity questions with the check that
earns the model the right to answer them (`capacity`). A run's jobs are arrays (`jobs`), its rows
go to a tally, a parquet file or a kept frame as they become final (`results`), and its clients
and workers are `simpy.Resource`'s grants for less work (`slots`).

The simulator imports the service's pure parts (the arbiter, the timeout policy, the remedies),
never the decoder stack.
"""
