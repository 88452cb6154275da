"""``python -m msc_analysis``: the command line (:mod:`msc_analysis.cli`)."""

from msc_analysis.cli import run

if __name__ == "__main__":
    run()
