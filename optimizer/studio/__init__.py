"""accelplan studio: what-ifs in the browser (``accelplan studio``).

- :mod:`optimizer.studio.catalog`: the instances the studio may read (the files it was given
  and what the user uploads), read once and validated with each run's overrides;
- :mod:`optimizer.studio.runs`: runs solved in background threads through the library API
  (live progress, cancel), each frozen with its inputs and kept in the studio's folder;
- :mod:`optimizer.studio.app`: the JSON API and the page (FastAPI; every script served by the
  app, nothing from a CDN).
"""
