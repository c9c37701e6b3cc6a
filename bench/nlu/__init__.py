"""NLU benchmark: the project's pipeline and Rasa's default one on public intent data.

``python -m bench.nlu`` (``make bench-nlu``); see ``bench/nlu/README_SECTION.md``.
"""
