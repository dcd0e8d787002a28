"""Judging decodes and remedies: error rates after normalisation (`metrics`), a set of clips decoded
and scored (`evaluate`), every remedy on one workload and corpus (`scoreboard`), and the figures
(`figures`).
"""
