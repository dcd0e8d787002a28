"""``asrlab``: the command line's entry point (`main`) and its commands, in the order
``asrlab --help`` lists them.
"""

from __future__ import annotations

import sys

from asrlab.cli import diagnose, drive, info, lab, reproduce, serve, sim, transcribe
from asrlab.cli.app import app

__all__ = ["app", "main"]

app.command()(transcribe.transcribe)
app.command()(transcribe.explain)
app.command()(diagnose.diagnose)
app.command()(reproduce.reproduce)
app.command(name="sweep")(lab.run_experiment)
app.command(name="compare")(lab.compare_two_runs)
app.command(name="runs")(lab.list_runs)
app.command(name="models")(info.list_models)
app.command(name="presets")(info.list_presets)
app.command(name="simulate")(sim.simulate_command)
app.command(name="calibrate")(sim.calibrate_command)
app.command(name="serve")(serve.serve_command)
app.command(name="drive")(drive.drive_command)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
