"""Presentation: every sentence, label, number format and figure qmsprint shows (app, CLI and report).

- :mod:`~qmsprint.present.format`: numbers, probabilities (one rule: :func:`~qmsprint.present.format.pct`),
  money, thresholds, intervals, levels, and the one label of each action, verdict, role and status.
- :mod:`~qmsprint.present.text`: the words of a recommendation (:func:`~qmsprint.present.text.explain`
  turns :func:`qmsprint.decide.decide`'s codes and numbers into sentences), metric-card sentences and
  the terminal summary.
- :mod:`~qmsprint.present.figures`: every Plotly figure of a run, shared by the app and the HTML report.
- :mod:`~qmsprint.present.design` and :mod:`~qmsprint.present.diagnosis`: the words and figures of a
  pilot design and of a checklist diagnosis.

Modules here import only lower layers (:mod:`qmsprint.decide`, :mod:`qmsprint.results`,
:mod:`qmsprint.metrics`, :mod:`qmsprint.spec`, :mod:`qmsprint.stats`), never the store, the API or the UI.
"""
