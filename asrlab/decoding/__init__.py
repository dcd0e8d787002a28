"""Whisper decoding: the options as plain data (`options`, no CTranslate2 import), the traced
faster-whisper model (`decoder`), the fallback verdict rules (`verdicts`), what a decode recorded
(`trace`) and the embedded models (`models`).
"""
