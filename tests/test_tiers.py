"""The test tiers hold: a test that asks for a costly fixture carries that fixture's marker, or
the session stops at collection with the line to add (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFTEST = Path(__file__).resolve().parent / "conftest.py"


def test_a_costly_fixture_without_its_marker_stops_the_collection(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makepyfile(
        test_tiers_probe="""
        import pytest

        def test_cheap():
            pass

        @pytest.mark.kernel
        def test_marked(kernels):
            pass

        def test_unmarked(kernels):
            pass

        def test_half_marked(noise_trace):
            pass
        """
    )
    result = pytester.runpytest_inprocess("--collect-only", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*without its marker:",
            "*::test_half_marked: add @pytest.mark.model @pytest.mark.slow",
            "*::test_unmarked: add @pytest.mark.kernel",
        ]
    )
    assert "test_marked" not in result.stderr.str().replace("test_half_marked", "")
